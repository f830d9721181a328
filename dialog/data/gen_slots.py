#!/usr/bin/env python3
"""Writes slots.jsonl: the labelled slot-filling set (see dialog/README.md).

The utterances and their labels are written by hand below; this script only
resolves relative dates in the labels ("sat", "tomorrow", "11-28") against each
line's `now` with Python's own calendar arithmetic, so the labels do not depend
on the Rust code under test. Lines are shuffled with a fixed seed and the last
20% form the held-out part; a batch of fresh lines, written after the rules
and scored once without changing them, is appended at the very end.

Label keys: movie, date, time ("19:00" exact, "~7:30" a 12-hour clock time
without am/pm, "17:00-22:00" a window), theater, party (total), detail
("adults+children", only when roles are named), class, position, act
(yes|no|cancel|repeat|extend|correct). A `prior=` group gives the slots the
conversation already had (for corrections).
"""
import datetime, json, random, re

NOWS = {
    "sun": "2026-11-22T10:00:00+09:00[Asia/Seoul]",   # Sunday morning
    "wed": "2026-11-25T14:30:00+09:00[Asia/Seoul]",   # Wednesday afternoon
    "fri": "2026-11-27T20:00:00+09:00[Asia/Seoul]",   # Friday evening
    "sat": "2026-11-28T09:00:00+09:00[Asia/Seoul]",   # Saturday morning
    "dec": "2026-12-30T11:00:00+09:00[Asia/Seoul]",   # Wednesday near the new year
}
MOVIES = {"matrix": "nsyn-11", "leon": "nsyn-03", "spirited": "nsyn-04", "bttf": "nv10002",
          "murder": "nsyn-18", "idiots": "nsyn-19"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def resolve_date(tok, now):
    today = datetime.date.fromisoformat(NOWS[now][:10])
    wd = today.weekday()
    if tok == "today":
        return today
    if tok == "tomorrow":
        return today + datetime.timedelta(1)
    if re.fullmatch(r"\+\d+", tok):
        return today + datetime.timedelta(int(tok[1:]))
    if tok in DAYS:  # the next such day, today included
        return today + datetime.timedelta((DAYS.index(tok) - wd) % 7)
    if tok.startswith("next:"):  # that day of next week (weeks start on Monday)
        return today + datetime.timedelta(7 - wd + DAYS.index(tok[5:]))
    if tok == "weekend":  # Saturday of this week, or today on a Sunday
        return today if wd == 6 else today + datetime.timedelta(5 - wd)
    if tok == "nextweekend":
        return today + datetime.timedelta(7 - wd + 5)
    m = re.fullmatch(r"(\d+)-(\d+)", tok)
    if m:  # month-day: this year, or next year once past
        d = datetime.date(today.year, int(m[1]), int(m[2]))
        return d if d >= today else datetime.date(today.year + 1, int(m[1]), int(m[2]))
    m = re.fullmatch(r"d(\d+)", tok)
    if m:  # day of month: this month, or next month once past
        y, mo = today.year, today.month
        if int(m[1]) < today.day:
            mo += 1
            if mo == 13:
                y, mo = y + 1, 1
        return datetime.date(y, mo, int(m[1]))
    raise ValueError(tok)


def slots(spec, now):
    out = {}
    for part in spec.split():
        k, v = part.split("=", 1)
        if k == "movie":
            v = MOVIES[v]
        elif k == "date":
            v = resolve_date(v, now).isoformat()
        elif k == "party":
            v = int(v)
        out[k] = v
    return out


# (now, text, expected[, prior])
L = []
def add(now, text, spec, prior=None):
    L.append((now, text, spec, prior))

# --- Korean: full requests -------------------------------------------------
add("sun", "토요일 저녁 7시 매트릭스 두 명 예매해 주세요", "movie=matrix date=sat time=19:00 party=2")
add("sun", "내일 레옹 보고 싶어요", "movie=leon date=tomorrow")
add("sun", "모레 오후 2시에 센과 치히로 3명이요", "movie=spirited date=+2 time=14:00 party=3")
add("sun", "글피에 살인의 추억 있나요", "movie=murder date=+3")
add("sun", "오늘 밤 9시 세 얼간이 혼자 볼게요", "movie=idiots date=today time=21:00 party=1")
add("wed", "이번 주말에 가족이랑 볼 영화 예매하고 싶어요", "date=weekend")
add("wed", "다음 주 토요일 매트릭스 4명", "movie=matrix date=next:sat party=4")
add("wed", "토요일 오후 3시 반 빽 투 더 퓨쳐", "movie=bttf date=sat time=15:30")
add("wed", "11월 28일 저녁에 매트릭스 두 장", "movie=matrix date=11-28 time=17:00-22:00 party=2")
add("wed", "28일 19시 레옹 2매", "movie=leon date=d28 time=19:00 party=2")
add("sun", "강남에서 토요일 매트릭스 보려고요", "movie=matrix date=sat theater=gangnam")
add("sun", "마키 홍대 내일 저녁 7시요", "theater=hongdae date=tomorrow time=19:00")
add("wed", "홍대점 금요일 밤에 세 얼간이 있어요?", "theater=hongdae date=fri time=20:00-24:00 movie=idiots")
add("sun", "센과 치히로의 행방불명 어른 둘 아이 하나요", "movie=spirited party=3 detail=2+1")
add("sun", "토요일 센과치히로 가족 넷이 볼 거예요", "movie=spirited date=sat party=4")
add("wed", "내일 아침에 레옹 프리미엄석으로 두 자리", "movie=leon date=tomorrow time=06:00-12:00 class=premium party=2")
add("wed", "휠체어석 하나 필요해요 모레 매트릭스", "class=wheelchair party=1 date=+2 movie=matrix")
add("sun", "살인의추억 앞쪽 자리로 두 명", "movie=murder position=front party=2")
add("sun", "뒤쪽 좌석으로 세 장 주세요", "position=back party=3")
add("wed", "가운데 자리 있으면 좋겠어요", "position=middle")
add("wed", "통로 쪽 자리로 부탁드려요", "position=aisle")
add("sun", "매트릭스 9시", "movie=matrix time=~9:00")
add("sun", "9시 걸로 할게요", "time=~9:00")
add("sun", "7시 반 거요", "time=~7:30")
add("wed", "오후 4시 40분 살인의 추억", "time=16:40 movie=murder")
add("wed", "저녁 8시 매트릭스 있나요", "time=20:00 movie=matrix")
add("fri", "오늘 저녁은 늦었고 내일 저녁으로 할게요", "date=tomorrow time=17:00-22:00")
add("sat", "오늘 오전 11시 센과 치히로 두 명", "date=today time=11:00 movie=spirited party=2")
add("sat", "이따 오후 두 시 반에 레옹이요", "date=today time=14:30 movie=leon")
add("sat", "열 시 매트릭스 한 장", "time=~10:00 movie=matrix party=1")
add("sat", "여덟 시에 볼 수 있는 거 있어요?", "time=~8:00")
add("sun", "다음주 일요일 세얼간이", "date=next:sun movie=idiots")
add("sun", "이번 주 금요일 저녁 레옹", "date=fri time=17:00-22:00 movie=leon")
add("wed", "12월 3일 빽투더퓨처 두 명", "date=12-03 movie=bttf party=2")
add("dec", "1월 2일 매트릭스 예매", "date=01-02 movie=matrix")
add("dec", "2일에 볼 수 있어요?", "date=d2")
add("dec", "31일 밤 8시 세 얼간이 다섯 명", "date=d31 time=20:00 movie=idiots party=5")
add("wed", "금요일 낮 12시 센과 치히로", "date=fri time=12:00 movie=spirited")
add("wed", "토요일 낮에 홍대에서 볼래요", "date=sat time=12:00-17:00 theater=hongdae")
add("wed", "점심때 강남 매트릭스", "time=11:00-14:00 theater=gangnam movie=matrix")
add("sun", "토욜 저녁 일곱시 매트릭스", "date=sat time=19:00 movie=matrix")
add("sun", "화요일 오후 다섯 시 살인의 추억 네 명", "date=tue time=17:00 movie=murder party=4")
add("sun", "목요일에 레옹 볼 수 있나요", "date=thu movie=leon")
add("sun", "월요일 밤 10시", "date=mon time=22:00")
add("sun", "수요일 오전 10시에 빽 투 더 퓨쳐 어른 한 명 아이 두 명", "date=wed time=10:00 movie=bttf party=3 detail=1+2")
add("sun", "어른 셋이요", "party=3 detail=3+0")
add("sun", "성인 2명 청소년 1명", "party=3 detail=2+1")
add("sun", "어른 두 명이랑 아이 한 명", "party=3 detail=2+1")
add("sun", "아이 둘이랑 저요", "party=3 detail=1+2")
add("sun", "엄마랑 저 두 명이요", "party=2")
add("sun", "저랑 남편이요", "party=2")
add("sun", "저희 부부 둘이서 보려고요", "party=2")
add("sun", "우리 가족 다섯이요", "party=5")
add("sun", "셋이서 갈게요", "party=3")
add("sun", "넷이요", "party=4")
add("sun", "두 명이요", "party=2")
add("sun", "2명", "party=2")
add("sun", "세 장 주세요", "party=3")
add("sun", "6매 부탁해요", "party=6")
add("sun", "혼자 볼 거예요", "party=1")
add("sun", "한 명이요", "party=1")
add("sun", "여섯 명이에요", "party=6")
add("sun", "일곱 명 자리 있나요", "party=7")
add("sun", "친구랑 둘이 갈게요", "party=2")
add("wed", "손주 둘이랑 저까지 셋", "party=3 detail=1+2")
add("wed", "아내와 아이 하나 데리고 갈 거예요", "party=3 detail=2+1")
# --- Korean: acts -------------------------------------------------------------
for t in ["네", "예", "네 좋아요", "좋아요", "그래요", "그래", "응", "응 그걸로 해", "확인", "네 확인했어요", "예 맞아요",
          "네네", "좋습니다", "그렇게 해 주세요", "네 예매해 주세요", "맞아요 그걸로 할게요", "어 그래 좋아"]:
    add("sun", t, "act=yes")
for t in ["아니요", "아뇨", "아니오", "아니 됐어요", "싫어요", "아니요 안 할래요", "그건 아니에요"]:
    add("sun", t, "act=no")
for t in ["취소", "취소해 주세요", "그만", "그만할게요", "예매 취소할래요", "다 취소해 줘", "안 볼래요 취소해요", "처음부터 다시 할래요 취소"]:
    add("sun", t, "act=cancel")
for t in ["다시 말해줘", "다시 말해 주세요", "뭐라고?", "뭐라고요?", "잘 못 들었어요", "한 번 더 말씀해 주세요", "다시 한번요", "네? 뭐라고 하셨어요?"]:
    add("sun", t, "act=repeat")
for t in ["연장", "연장해 주세요", "시간 더 주세요", "조금만 시간 더", "홀드 연장해줘", "좀 더 생각해 볼게요 시간 연장해 주세요"]:
    add("sun", t, "act=extend")
# --- Korean: corrections, with the prior slots -------------------------------
add("sun", "아니 내일 말고 모레", "date=+2 act=correct", "date=tomorrow")
add("sun", "아니요 세 명이요", "party=3 act=correct", "party=2")
add("sun", "아니 두 명이요", "party=2 act=correct", "party=3")
add("sun", "토요일 말고 일요일로 해 주세요", "date=next:sun act=correct", "date=sat")
add("sun", "7시 말고 9시", "time=~9:00 act=correct", "time=~7:00")
add("sun", "매트릭스 말고 레옹으로 바꿔 주세요", "movie=leon act=correct", "movie=matrix")
add("sun", "강남 말고 홍대요", "theater=hongdae act=correct", "theater=gangnam")
add("sun", "아니 네 명이에요", "party=4 act=correct", "party=3")
add("sun", "인원 바꿀게요 다섯 명", "party=5 act=correct", "party=3")
add("sun", "날짜를 금요일로 변경해 주세요", "date=fri act=correct", "date=sat")
add("sun", "아 잠깐 저녁 말고 오후로요", "time=12:00-17:00 act=correct", "time=17:00-22:00")
add("wed", "아니 오늘 말고 내일이요", "date=tomorrow act=correct", "date=today")
add("wed", "아니요 프리미엄으로 해 주세요", "class=premium act=correct", "party=2")
add("wed", "한 명 더 추가해 주세요", "party=3 act=correct", "party=2")
add("wed", "아니 어른 둘 아이 둘", "party=4 detail=2+2 act=correct", "party=3")
add("sat", "아니 8시 거 말고 4시 40분", "time=16:40 act=correct", "time=20:00")
add("sat", "모레 말고 글피", "date=+3 act=correct", "date=+2")
add("sat", "홍대 말고 강남에서요", "theater=gangnam act=correct", "theater=hongdae")
add("sat", "세 명 말고 두 명", "party=2 act=correct", "party=3")
add("sat", "아니요 뒷자리로요", "position=back act=correct", "position=front")
# --- Korean: discovery and booking phrasing -------------------------------------
add("wed", "토요일 저녁에 가족이랑 볼 만한 영화 있어?", "date=sat time=17:00-22:00")
add("wed", "내일 오후에 볼 만한 거 추천해 주세요", "date=tomorrow time=12:00-17:00")
add("sun", "오늘 저녁에 아이랑 볼 영화 뭐 있어요", "date=today time=17:00-22:00")
add("sun", "이번 주말 강남에서 하는 영화 알려 주세요", "date=weekend theater=gangnam")
add("fri", "주말에 볼 만한 영화", "date=weekend")
add("sun", "다음 주말에 매트릭스 하나요?", "date=nextweekend movie=matrix")
add("sat", "오늘 뭐 해요?", "date=today")
add("sun", "매트릭스 언제 해요?", "movie=matrix")
add("sun", "레옹 상영 시간 알려 주세요", "movie=leon")
add("sun", "살인의 추억 예매하고 싶어요", "movie=murder")
add("sun", "센과 치히로 보고 싶은데요", "movie=spirited")
add("sun", "빽 투 더 퓨쳐 몇 시에 있어요", "movie=bttf")
add("sun", "백투더퓨처 내일 있어요?", "movie=bttf date=tomorrow")
add("sun", "세 얼간이 표 있어요?", "movie=idiots")
add("sun", "세얼간이 두 명", "movie=idiots party=2")
add("sun", "세 얼간이 세 명 토요일", "movie=idiots party=3 date=sat")
add("sun", "살인의 추억 네 명이요", "movie=murder party=4")
add("sun", "네 명이요", "party=4")
add("sun", "네 두 명이요", "party=2 act=yes")
add("sun", "예 세 장이요", "party=3 act=yes")
add("sun", "네 시에 볼게요", "time=~4:00")
add("sun", "두 시 레옹", "time=~2:00 movie=leon")
add("sun", "세 시 반 두 명", "time=~3:30 party=2")
add("sun", "여섯 시 네 명", "time=~6:00 party=4")
add("sun", "첫 번째 걸로 할게요", "")
add("sun", "20:00 매트릭스 강남", "time=20:00 movie=matrix theater=gangnam")
add("sun", "16시 40분 거로", "time=16:40")
add("sun", "13:20 꺼 두 명", "time=13:20 party=2")
add("sun", "마키강남 1관", "theater=gangnam")
add("sun", "프리미엄 좌석 있어요?", "class=premium")
add("sun", "휠체어 자리 두 개", "class=wheelchair party=2")
add("sun", "장애인석 필요합니다", "class=wheelchair")
add("sun", "좋은 자리 앞쪽으로", "position=front")
add("sun", "중간쯤 자리", "position=middle")
add("sun", "스크린 가까운 앞자리", "position=front")
add("sun", "맨 뒷줄이 좋아요", "position=back")
add("sun", "복도 쪽으로 주세요", "position=aisle")
add("sun", "매트릭스 프리미엄 두 명 토요일 밤 8시 강남", "movie=matrix class=premium party=2 date=sat time=20:00 theater=gangnam")
add("wed", "레옹 모레 오후 다섯시 홍대 세명 뒤쪽", "movie=leon date=+2 time=17:00 theater=hongdae party=3 position=back")
add("wed", "내일모레 센과 치히로", "date=+2 movie=spirited")
add("wed", "낼 매트릭스", "date=tomorrow movie=matrix")
add("wed", "담주 화요일 레옹", "date=next:tue movie=leon")
add("wed", "이번주 토요일 아침 열 시", "date=sat time=10:00")
add("wed", "토요일 오전에 아이들이랑", "date=sat time=06:00-12:00")
add("wed", "일요일 저녁 살인의 추억", "date=sun time=17:00-22:00 movie=murder")
add("wed", "금요일 밤 9시 반", "date=fri time=21:30")
add("fri", "오늘 밤 10시 거 있어요", "date=today time=22:00")
add("fri", "내일 아침 10시 매트릭스 아이 둘", "date=tomorrow time=10:00 movie=matrix party=2 detail=0+2")
add("fri", "토요일 센과 치히로 오후 2시 어른 하나 아이 셋", "date=sat movie=spirited time=14:00 party=4 detail=1+3")
add("sat", "내일 저녁 여덟 시 반", "date=tomorrow time=20:30")
add("sat", "다음 주 월요일 오후 1시 20분", "date=next:mon time=13:20")
add("sat", "12월 1일 레옹", "date=12-01 movie=leon")
add("sat", "12/5 매트릭스", "date=12-05 movie=matrix")
add("sat", "2026-12-02 살인의 추억", "date=12-02 movie=murder")
add("sat", "30일에 세 얼간이 있나요", "date=d30 movie=idiots")
add("sat", "이번 주 일요일 레옹", "date=sun movie=leon")
add("sat", "오늘은 말고 내일", "date=tomorrow act=correct", "date=today")
add("sat", "저녁 일곱 시 반 매트릭스 둘", "time=19:30 movie=matrix party=2")
add("sat", "밤 9시 걸로 해 주세요", "time=21:00")
add("sat", "아홉 시 거", "time=~9:00")
add("sat", "열한 시 센과 치히로", "time=~11:00 movie=spirited")
add("sat", "열두 시 세 얼간이", "time=12:00 movie=idiots")
add("sat", "12시 세얼간이 한 명", "time=12:00 movie=idiots party=1")
add("sun", "치히로 토요일 몇 시에 해요", "movie=spirited date=sat")
add("sun", "추억 그 영화 내일", "movie=murder date=tomorrow")
add("sun", "매트릭스 오늘 늦게 하는 거", "movie=matrix date=today time=20:00-24:00")
add("sun", "레옹 내일 낮", "movie=leon date=tomorrow time=12:00-17:00")
add("sun", "퓨처 토요일", "movie=bttf date=sat")
add("sun", "오늘 매트릭스 강남 2명 가운데로", "date=today movie=matrix theater=gangnam party=2 position=middle")
add("sun", "어르신 두 분이 보실 거예요", "party=2 detail=2+0")
add("sun", "할머니랑 손녀 둘이요", "party=2")
add("sun", "친구 세 명이랑 같이 가요", "party=4")
add("sun", "셋이 보려고 하는데 토요일 괜찮나요", "party=3 date=sat")
add("sun", "토요일이요", "date=sat")
add("sun", "내일이요", "date=tomorrow")
add("sun", "저녁이요", "time=17:00-22:00")
add("sun", "오후로 해 주세요", "time=12:00-17:00")
add("sun", "아침 일찍", "time=06:00-12:00")
add("sun", "강남이요", "theater=gangnam")
add("sun", "홍대로 갈게요", "theater=hongdae")
add("sun", "마키 홍대에서 내일", "theater=hongdae date=tomorrow")
add("sun", "레옹이요", "movie=leon")
add("sun", "매트릭스요", "movie=matrix")
add("sun", "세 얼간이로 할게요", "movie=idiots")
add("sun", "살인의 추억 보여 주세요", "movie=murder")

# --- Korean: more everyday and elderly phrasing ------------------------------------
add("sun", "손자랑 같이 볼 만화 영화 토요일에 하나요", "date=sat")
add("sun", "할아버지 할머니 두 분 내일 오전에 볼 수 있을까요", "party=2 date=tomorrow time=06:00-12:00")
add("sun", "내일 두 시쯤 센과 치히로 보려고 하는데요", "date=tomorrow time=~2:00 movie=spirited")
add("sun", "저녁 먹고 여덟 시쯤 매트릭스 볼 수 있어요?", "time=20:00 movie=matrix")
add("sun", "토요일 홍대 점심 지나서", "date=sat theater=hongdae time=12:00-17:00")
add("wed", "금요일에 시간이 되는데 레옹 있어요?", "date=fri movie=leon")
add("wed", "모레 저녁 일곱 시 강남 두 명 예약이요", "date=+2 time=19:00 theater=gangnam party=2")
add("wed", "어른 네 명 일요일 오후 세 시 반", "party=4 detail=4+0 date=sun time=15:30")
add("wed", "아이 셋이랑 어른 둘이요", "party=5 detail=2+3")
add("wed", "초등학생 둘하고 엄마 한 명", "party=3 detail=1+2")
add("wed", "네 네 그렇게 해 주세요", "act=yes")
add("wed", "좋아요 그 시간으로 해 주세요", "act=yes")
add("wed", "아니요 다른 시간 볼게요", "act=no")
add("wed", "예매 그만둘래요", "act=cancel")
add("wed", "방금 뭐라고 하셨죠?", "act=repeat")
add("wed", "다시 한 번 읽어 주세요", "act=repeat")
add("wed", "시간 좀 연장해 줄 수 있어요?", "act=extend")
add("fri", "아니 내일 말고 토요일 아니고 일요일", "date=sun act=correct", "date=tomorrow")
add("fri", "일곱 명 말고 여섯 명", "party=6 act=correct", "party=7")
add("fri", "아니 살인의 추억으로요", "movie=murder act=correct", "movie=leon")
add("fri", "시간은 밤 열 시로 바꿔 주세요", "time=22:00 act=correct", "time=19:00")
add("sat", "오늘 말고 다음 주 토요일", "date=next:sat act=correct", "date=today")
add("sat", "휠체어석으로 바꿔 주세요", "class=wheelchair act=correct", "class=premium")
add("sat", "프리미엄 말고 일반석이요", "class=standard act=correct", "class=premium")
add("sat", "일반석 두 장", "class=standard party=2")
add("dec", "새해 첫날 매트릭스 있어요?", "date=01-01 movie=matrix")
add("dec", "내년 1월 5일 저녁", "date=01-05 time=17:00-22:00")
add("dec", "다음 주 수요일 레옹 세 명", "date=next:wed movie=leon party=3")
add("dec", "이번 주말 세 얼간이", "date=weekend movie=idiots")
add("dec", "모레 밤에 살인의 추억 두 장 뒤쪽으로", "date=+2 time=20:00-24:00 movie=murder party=2 position=back")

# --- English ---------------------------------------------------------------------
add("sun", "Two tickets for The Matrix on Saturday at 7pm", "party=2 movie=matrix date=sat time=19:00")
add("sun", "I'd like to see Leon tomorrow evening", "movie=leon date=tomorrow time=17:00-22:00")
add("sun", "Spirited Away this weekend for two adults and a child", "movie=spirited date=weekend party=3 detail=2+1")
add("wed", "matrix tonight", "movie=matrix date=today time=17:00-22:00")
add("wed", "Any showings of Memories of Murder on Friday?", "movie=murder date=fri")
add("wed", "3 Idiots next Friday at 8", "movie=idiots date=next:fri time=~8:00")
add("wed", "Back to the Future Saturday afternoon", "movie=bttf date=sat time=12:00-17:00")
add("wed", "back to the future, sunday 10am, 4 people", "movie=bttf date=sun time=10:00 party=4")
add("wed", "Book the 9pm Matrix in Gangnam", "time=21:00 movie=matrix theater=gangnam")
add("wed", "Leon at Marquee Hongdae on Nov 28", "movie=leon theater=hongdae date=11-28")
add("wed", "November 29th, evening", "date=11-29 time=17:00-22:00")
add("wed", "the 30th at 7:30", "date=d30 time=~7:30")
add("wed", "Dec 2 at 19:00", "date=12-02 time=19:00")
add("dec", "January 3rd, The Matrix", "date=01-03 movie=matrix")
add("sun", "today", "date=today")
add("sun", "tomorrow please", "date=tomorrow")
add("sun", "the day after tomorrow", "date=+2")
add("sun", "this weekend", "date=weekend")
add("sun", "next weekend", "date=nextweekend")
add("sun", "Saturday", "date=sat")
add("sun", "this Saturday night", "date=sat time=20:00-24:00")
add("sun", "next Friday", "date=next:fri")
add("wed", "next Friday", "date=next:fri")
add("wed", "on Thursday morning", "date=thu time=06:00-12:00")
add("wed", "Tuesday at noon", "date=tue time=12:00")
add("wed", "at 4:40 pm", "time=16:40")
add("wed", "7pm", "time=19:00")
add("wed", "around 7:30", "time=~7:30")
add("wed", "the 8 o'clock one", "time=~8:00")
add("wed", "8:00 PM", "time=20:00")
add("wed", "11 am", "time=11:00")
add("wed", "in the evening", "time=17:00-22:00")
add("wed", "afternoon works", "time=12:00-17:00")
add("wed", "late at night", "time=20:00-24:00")
add("wed", "two adults", "party=2 detail=2+0")
add("wed", "two adults and two kids", "party=4 detail=2+2")
add("wed", "one adult, three children", "party=4 detail=1+3")
add("wed", "me and my wife", "party=2")
add("wed", "me and my two kids", "party=3 detail=1+2")
add("wed", "just me", "party=1")
add("wed", "for two", "party=2")
add("wed", "party of four", "party=4")
add("wed", "3 tickets", "party=3")
add("wed", "five seats please", "party=5")
add("wed", "a family of four", "party=4")
add("wed", "my husband and I", "party=2")
add("wed", "just the two of us", "party=2")
add("wed", "premium seats", "class=premium")
add("wed", "we need a wheelchair space", "class=wheelchair")
add("wed", "wheelchair accessible seat for one", "class=wheelchair party=1")
add("wed", "front row if possible", "position=front")
add("wed", "somewhere in the back", "position=back")
add("wed", "middle seats please", "position=middle")
add("wed", "aisle seats", "position=aisle")
add("wed", "center, premium, two of us", "position=middle class=premium party=2")
for t in ["yes", "Yes please", "sure", "ok", "okay, go ahead", "yeah that's right", "yep", "confirm", "sounds good", "Yes, book it"]:
    add("wed", t, "act=yes")
for t in ["no", "no thanks", "nope", "not that one"]:
    add("wed", t, "act=no")
for t in ["cancel", "cancel it", "stop", "never mind", "forget it, cancel the booking"]:
    add("wed", t, "act=cancel")
for t in ["repeat that", "say again", "sorry, say that again?", "what did you say?", "could you repeat that please", "pardon?"]:
    add("wed", t, "act=repeat")
for t in ["extend", "extend the hold", "I need more time", "can you extend it please"]:
    add("wed", t, "act=extend")
add("wed", "make it three", "party=3 act=correct", "party=2")
add("wed", "actually Sunday", "date=sun act=correct", "date=sat")
add("wed", "no, make it 4 people", "party=4 act=correct", "party=2")
add("wed", "not tomorrow, the day after", "date=+2 act=correct", "date=tomorrow")
add("wed", "actually, Leon instead", "movie=leon act=correct", "movie=matrix")
add("wed", "change it to 9pm", "time=21:00 act=correct", "time=19:00")
add("wed", "actually make that Hongdae", "theater=hongdae act=correct", "theater=gangnam")
add("wed", "No, two adults and one child", "party=3 detail=2+1 act=correct", "party=2")
add("wed", "add one more person", "party=4 act=correct", "party=3")
add("wed", "sorry, I meant Friday", "date=fri act=correct", "date=sat")
add("sun", "Is The Matrix showing tonight?", "movie=matrix date=today time=17:00-22:00")
add("sun", "what's on Saturday evening for the family?", "date=sat time=17:00-22:00")
add("sun", "When is Spirited Away playing?", "movie=spirited")
add("sun", "Book Memories of Murder for 2 on Tuesday", "movie=murder party=2 date=tue")
add("sun", "three idiots, three people, saturday", "movie=idiots party=3 date=sat")
add("sun", "I want 2 premium seats for the matrix tomorrow at 8 pm", "party=2 class=premium movie=matrix date=tomorrow time=20:00")
add("sun", "Gangnam please", "theater=gangnam")
add("sun", "the Hongdae one", "theater=hongdae")
add("sat", "today at 3:30 pm", "date=today time=15:30")
add("sat", "tomorrow morning at 10", "date=tomorrow time=10:00")
add("sat", "Monday at 1:20", "date=mon time=~1:20")
add("sat", "next Sunday", "date=next:sun")
add("fri", "tonight at 9", "date=today time=21:00")
add("fri", "tomorrow at 4:40", "date=tomorrow time=~4:40")

# --- Fresh lines, written after the rules and scored once without tuning -----
# (appended after the shuffle, so they sit in the held-out tail)
FRESH_START = len(L)
add("wed", "금요일 저녁 여섯 시쯤 아이 둘 데리고 가려는데요", "date=fri time=18:00 party=3 detail=1+2")
add("wed", "모레 오후 늦게 레옹 한 장만요", "date=+2 time=12:00-17:00 movie=leon party=1")
add("wed", "토요일 아침 첫 회 매트릭스", "date=sat time=06:00-12:00 movie=matrix")
add("wed", "이번 주 일요일 밤 여덟 시 반 홍대", "date=sun time=20:30 theater=hongdae")
add("wed", "세 얼간이 말고 살인의 추억이요", "movie=murder act=correct", "movie=idiots")
add("wed", "좌석은 가운데로 두 장 부탁드립니다", "position=middle party=2")
add("wed", "앞에서 세 번째 줄 정도면 좋겠어요", "position=front")
add("wed", "할머니 모시고 저까지 둘이요", "party=2")
add("wed", "강남 2관 20시 30분", "theater=gangnam time=20:30")
add("wed", "그럼 그걸로 예매할게요", "act=yes")
add("wed", "잠깐만요 다시 한 번 말씀해 주실래요", "act=repeat")
add("wed", "아 아니에요 그만 할게요", "act=cancel")
add("wed", "시간 연장 부탁해요", "act=extend")
add("wed", "다섯 명 말고 네 명이요", "party=4 act=correct", "party=5")
add("wed", "12월 첫째 주 토요일 레옹", "date=12-05 movie=leon")
add("wed", "목요일 오후 한 시 이십 분", "date=thu time=13:20")
add("wed", "오늘 밤 늦게 볼 수 있는 영화", "date=today time=20:00-24:00")
add("wed", "내일 낮 열두 시 세 얼간이 두 명", "date=tomorrow time=12:00 movie=idiots party=2")
add("wed", "어른 한 명 어린이 한 명 프리미엄으로", "party=2 detail=1+1 class=premium")
add("wed", "휠체어 이용하시는 어머니랑 저", "class=wheelchair party=2")
add("wed", "마키 강남 토요일 밤 8시 두 자리", "theater=gangnam date=sat time=20:00 party=2")
add("wed", "예 좋아요 확정해 주세요", "act=yes")
add("wed", "아니요 됐습니다", "act=no")
add("wed", "빽투더퓨처 수요일 오전", "movie=bttf date=wed time=06:00-12:00")
add("wed", "다음 주 금요일 저녁 일곱 시 살인의 추억 세 장", "date=next:fri time=19:00 movie=murder party=3")
add("wed", "Can I get three seats for Leon tomorrow night?", "party=3 movie=leon date=tomorrow time=20:00-24:00")
add("wed", "Spirited Away, Sunday at 2 in the afternoon", "movie=spirited date=sun time=14:00")
add("wed", "just me and my son", "party=2")
add("wed", "make that five", "party=5 act=correct", "party=3")
add("wed", "no wait, Friday not Saturday", "date=fri act=correct", "date=sat")
add("wed", "is there anything at 9 tonight?", "date=today time=21:00")
add("wed", "premium, in the middle, for the two of us", "class=premium position=middle party=2")
add("wed", "Marquee Gangnam, Dec 1st, evening", "theater=gangnam date=12-01 time=17:00-22:00")
add("wed", "yes please go ahead and book", "act=yes")
add("wed", "sorry what?", "act=repeat")
add("wed", "can I have a few more minutes", "act=extend")
add("wed", "please cancel everything", "act=cancel")
add("wed", "Memories of Murder at 4:40 this Saturday", "movie=murder time=16:40 date=sat")
add("wed", "one adult and two children for 3 Idiots", "party=3 detail=1+2 movie=idiots")
add("wed", "the back row please", "position=back")

rng = random.Random(20261122)
fresh_lines = L[FRESH_START:]
L = L[:FRESH_START]
rng.shuffle(L)
L += fresh_lines
with open(__file__.rsplit("/", 1)[0] + "/slots.jsonl", "w") as f:
    for i, (now, text, spec, prior) in enumerate(L):
        row = {"id": f"s{i+1:03d}", "now": NOWS[now], "text": text, "expect": slots(spec, now)}
        if prior:
            row["prior"] = slots(prior, now)
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
ko = sum(1 for x in L if re.search("[가-힣]", x[1]))
print(len(L), "lines,", ko, "Korean", f"({100*ko/len(L):.0f}%)")
