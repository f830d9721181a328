#!/usr/bin/env python3
"""Writes fresh.jsonl and heldout.jsonl: a second labelled slot-filling set
(issue 15), written by hand BEFORE any rule was changed for it, in the format
of slots.jsonl (see dialog/README.md and gen_slots.py for the label keys).

It targets the kinds of phrasing the first set missed: speech-to-text output
with the spaces run together, misspellings and spoken forms of dates and days,
minutes in Korean number words, the speaker counted in the party, counting
words without numbers, bare numbers after ticket-type words, relative
corrections, English approximate times and weekday-plus-week phrases, "make it
N" after a time, and dialogue acts (repeat slowly, "not that one").

An extra key, `tickets` ("adult:2,child:1", the ticket types adult, teen,
senior, disabled, child), labels the ticket mix where the party names types;
the eval does not score it yet.

The lines are shuffled with a fixed seed and split: two thirds `fresh`
(scored once before tuning, then available for tuning), one third `heldout`
(never looked at while tuning; scored at the end only).
"""
import datetime, json, random, re

NOWS = {
    "sun": "2026-11-22T10:00:00+09:00[Asia/Seoul]",
    "wed": "2026-11-25T14:30:00+09:00[Asia/Seoul]",
    "fri": "2026-11-27T20:00:00+09:00[Asia/Seoul]",
    "sat": "2026-11-28T09:00:00+09:00[Asia/Seoul]",
    "dec": "2026-12-30T11:00:00+09:00[Asia/Seoul]",
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
    if tok in DAYS:
        return today + datetime.timedelta((DAYS.index(tok) - wd) % 7)
    if tok.startswith("next:"):
        return today + datetime.timedelta(7 - wd + DAYS.index(tok[5:]))
    m = re.fullmatch(r"(\d+)-(\d+)", tok)
    if m:
        d = datetime.date(today.year, int(m[1]), int(m[2]))
        return d if d >= today else datetime.date(today.year + 1, int(m[1]), int(m[2]))
    m = re.fullmatch(r"d(\d+)", tok)
    if m:
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
        elif k == "tickets":
            v = {t: int(n) for t, n in (x.split(":") for x in v.split(","))}
        out[k] = v
    return out


L = []
def add(now, text, spec, prior=None):
    L.append((now, text, spec, prior))

# --- speech-to-text: spaces run together -------------------------------------
add("wed", "내일저녁일곱시매트릭스두명", "date=tomorrow time=19:00 movie=matrix party=2")
add("wed", "토요일오후두시레옹세장", "date=sat time=14:00 movie=leon party=3")
add("wed", "모레센과치히로어른둘아이하나", "date=+2 movie=spirited party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "금요일밤아홉시세얼간이혼자요", "date=fri time=21:00 movie=idiots party=1")
add("wed", "강남점에서내일매트릭스", "theater=gangnam date=tomorrow movie=matrix")
add("wed", "홍대에서토요일저녁에레옹볼래요", "theater=hongdae date=sat time=17:00-22:00 movie=leon")
add("wed", "오늘저녁여덟시살인의추억두자리", "date=today time=20:00 movie=murder party=2")
add("wed", "빽투더퓨처내일오전열시", "movie=bttf date=tomorrow time=10:00")
add("wed", "다음주토요일매트릭스네명", "date=next:sat movie=matrix party=4")
add("wed", "일요일낮한시센과치히로", "date=sun time=13:00 movie=spirited")
add("sun", "오늘오후네시사십분살인의추억", "date=today time=16:40 movie=murder")
add("sun", "내일밤열시매트릭스한장", "date=tomorrow time=22:00 movie=matrix party=1")
add("sun", "세얼간이토요일두명예매해주세요", "movie=idiots date=sat party=2")
add("sun", "레옹뒷자리로두명", "movie=leon position=back party=2")
add("sun", "매트릭스프리미엄석으로두자리", "movie=matrix class=premium party=2")
add("sun", "휠체어석하나랑옆자리하나", "class=wheelchair party=2")
add("sun", "통로쪽으로세자리주세요", "position=aisle party=3")
add("sun", "맨뒷줄로해주세요", "position=back")
add("sun", "맨앞줄은싫고가운데로", "position=middle")
add("wed", "성인둘청소년하나요", "party=3 detail=2+1 tickets=adult:2,teen:1")
add("wed", "어른두명애한명", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "내일모레저녁에세얼간이", "date=+2 time=17:00-22:00 movie=idiots")
add("wed", "금요일저녁일곱시반레옹", "date=fri time=19:30 movie=leon")
add("wed", "강남에서오늘밤", "theater=gangnam date=today time=20:00-24:00")
add("fri", "내일아침열한시센과치히로세명", "date=tomorrow time=11:00 movie=spirited party=3")
add("fri", "오늘은늦었으니내일저녁으로", "date=tomorrow time=17:00-22:00")
add("sat", "오늘오후세시매트릭스", "date=today time=15:00 movie=matrix")
add("sat", "이따저녁에레옹두장", "date=today time=17:00-22:00 movie=leon party=2")
add("dec", "일월이일매트릭스", "date=01-02 movie=matrix")
add("dec", "삼십일일밤여덟시", "date=d31 time=20:00")
add("wed", "토요일 오후두시 매트릭스두명이요", "date=sat time=14:00 movie=matrix party=2")
add("wed", "내일 저녁7시 레옹 두명", "date=tomorrow time=19:00 movie=leon party=2")
add("wed", "12월3일 빽투더퓨처", "date=12-03 movie=bttf")
add("wed", "28일저녁 세얼간이 3명", "date=d28 time=17:00-22:00 movie=idiots party=3")
add("wed", "살인의추억 금요일 밤9시 강남", "movie=murder date=fri time=21:00 theater=gangnam")

# --- misspellings, abbreviations, spoken dates and days -----------------------
add("wed", "메트릭스 내일 두 명", "movie=matrix date=tomorrow party=2")
add("wed", "매트릭쓰 토요일에요", "movie=matrix date=sat")
add("wed", "레온 보고 싶은데 내일", "movie=leon date=tomorrow")
add("wed", "센과 치이로 토요일 오후", "movie=spirited date=sat time=12:00-17:00")
add("wed", "센과 치히로의 행방불명 모레", "movie=spirited date=+2")
add("wed", "백투터퓨처 일요일", "movie=bttf date=sun")
add("wed", "백 투 더 퓨처 금요일 저녁", "movie=bttf date=fri time=17:00-22:00")
add("wed", "세 얼간이들 내일", "movie=idiots date=tomorrow")
add("wed", "살인에 추억 토요일 밤", "movie=murder date=sat time=20:00-24:00")
add("wed", "낼 매트릭스 있어요", "date=tomorrow movie=matrix")
add("wed", "낼 저녁에 레옹", "date=tomorrow time=17:00-22:00 movie=leon")
add("wed", "토욜 세 얼간이 두 명", "date=sat movie=idiots party=2")
add("wed", "일욜 낮에 센과 치히로", "date=sun time=12:00-17:00 movie=spirited")
add("wed", "금욜 밤 매트릭스", "date=fri time=20:00-24:00 movie=matrix")
add("wed", "담주 토요일 레옹", "date=next:sat movie=leon")
add("wed", "담주 월요일 매트릭스", "date=next:mon movie=matrix")
add("wed", "다음 주 화요일에 살인의 추억", "date=next:tue movie=murder")
add("wed", "돌아오는 토요일에 세 얼간이", "date=sat movie=idiots")
add("wed", "이번 토요일날 매트릭스", "date=sat movie=matrix")
add("wed", "토요일날 저녁 일곱 시", "date=sat time=19:00")
add("wed", "금요일날 레옹 두 장", "date=fri movie=leon party=2")
add("wed", "이십팔일 매트릭스", "date=d28 movie=matrix")
add("wed", "이십구일에 볼게요", "date=d29")
add("wed", "십이월 삼일 빽투더퓨처", "date=12-03 movie=bttf")
add("wed", "십이 월 오 일 레옹", "date=12-05 movie=leon")
add("wed", "다음 달 삼일", "date=12-03")
add("wed", "내일 모레 레옹", "date=+2 movie=leon")
add("wed", "글피에 매트릭스", "date=+3 movie=matrix")
add("sun", "오늘 말고 낼이요", "date=tomorrow act=correct", "date=today")
add("sun", "목요일 저녁에 센과 치히로", "date=thu time=17:00-22:00 movie=spirited")
add("sun", "수요일날 오후 세 시 매트릭스", "date=wed time=15:00 movie=matrix")
add("dec", "새해 첫날 매트릭스", "date=01-01 movie=matrix")
add("dec", "일월 삼일 레옹 두 명", "date=01-03 movie=leon party=2")
add("dec", "내년 1월 2일", "date=01-02")
add("sat", "오늘 오후에 세얼간이", "date=today time=12:00-17:00 movie=idiots")
add("sat", "지금 바로 볼 수 있는 거", "date=today")
add("wed", "매트릭스 강남점", "movie=matrix theater=gangnam")
add("wed", "홍대점으로 해 주세요", "theater=hongdae")
add("wed", "마키 강남 내일", "theater=gangnam date=tomorrow")
add("wed", "홍대 마키에서 금요일", "theater=hongdae date=fri")

# --- minutes in Korean number words -------------------------------------------
add("wed", "저녁 일곱 시 삼십 분 매트릭스", "time=19:30 movie=matrix")
add("wed", "오후 네 시 사십 분 거", "time=16:40")
add("wed", "오후 두 시 십오 분", "time=14:15")
add("wed", "저녁 여섯 시 오십 분", "time=18:50")
add("wed", "일곱 시 삼십 분", "time=~7:30")
add("wed", "여덟 시 이십 분 걸로", "time=~8:20")
add("wed", "밤 아홉 시 사십 분 레옹", "time=21:40 movie=leon")
add("wed", "오전 열 시 이십 분", "time=10:20")
add("wed", "오후 한 시 반 센과 치히로", "time=13:30 movie=spirited")
add("wed", "낮 열두 시 반", "time=12:30")
add("wed", "열한 시 사십 분", "time=~11:40")
add("wed", "저녁 다섯 시 오 분", "time=17:05")
add("wed", "네시 사십분 살인의 추억", "time=~4:40 movie=murder")
add("wed", "세시 반 매트릭스 두 명", "time=~3:30 movie=matrix party=2")
add("wed", "오후 세 시 삼십 분 레옹 세 명", "time=15:30 movie=leon party=3")
add("wed", "저녁 여덟시 십분", "time=20:10")
add("sun", "일곱시반 거 주세요", "time=~7:30")
add("sun", "아홉시 십오분", "time=~9:15")
add("sun", "오후 다섯시 사십오분 세 얼간이", "time=17:45 movie=idiots")
add("sun", "밤 열 시 오십 분", "time=22:50")

# --- the speaker counted in the party; counting words -------------------------
add("wed", "저까지 세 명이요", "party=3")
add("wed", "저 포함해서 네 명", "party=4")
add("wed", "나 포함 다섯 명", "party=5")
add("wed", "저랑 아내 둘이요", "party=2")
add("wed", "나랑 우리 마누라", "party=2")
add("wed", "집사람하고 저하고 볼 거예요", "party=2")
add("wed", "우리 부부 둘이 볼 거예요", "party=2")
add("wed", "저희 부부요", "party=2")
add("wed", "저랑 손자 둘이요", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "나하고 손주 하나", "party=2 detail=1+1 tickets=adult:1,child:1")
add("wed", "할머니랑 손녀 둘", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "우리 내외하고 손주 셋", "party=5 detail=2+3 tickets=adult:2,child:3")
add("wed", "할아버지 할머니 그리고 손자 하나", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "저랑 딸이랑 둘이요", "party=2")
add("wed", "엄마랑 저랑 가요", "party=2")
add("wed", "친구랑 둘이", "party=2")
add("wed", "둘이서 볼게요", "party=2")
add("wed", "셋이서 갈 거예요", "party=3")
add("wed", "넷이요", "party=4")
add("wed", "다섯이요", "party=5")
add("wed", "혼자 볼 거예요", "party=1")
add("wed", "나 혼자요", "party=1")
add("wed", "저 혼자 가요", "party=1")
add("wed", "한 사람이요", "party=1")
add("wed", "두 사람", "party=2")
add("wed", "세 사람이 볼 거예요", "party=3")
add("wed", "식구 넷이요", "party=4")
add("wed", "가족 다섯 명", "party=5")
add("wed", "애들 둘하고 저", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "아이 둘 데리고 저 혼자 가요", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "어른 하나 애 둘", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "어른 둘이요", "party=2 detail=2+0 tickets=adult:2")
add("wed", "아이 하나 어른 하나", "party=2 detail=1+1 tickets=adult:1,child:1")
add("wed", "어린이 둘 성인 둘", "party=4 detail=2+2 tickets=adult:2,child:2")
add("wed", "커플이요", "party=2")
add("wed", "연인이랑 둘이", "party=2")

# --- bare numbers after ticket-type words --------------------------------------
add("wed", "성인 2 청소년 1", "party=3 detail=2+1 tickets=adult:2,teen:1")
add("wed", "성인 2", "party=2 detail=2+0 tickets=adult:2")
add("wed", "어른 3 아이 2", "party=5 detail=3+2 tickets=adult:3,child:2")
add("wed", "성인2 아동1", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "성인 1 어린이 2", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "경로 2", "party=2 detail=2+0 tickets=senior:2")
add("wed", "경로 두 장이요", "party=2 detail=2+0 tickets=senior:2")
add("wed", "경로 둘 성인 하나", "party=3 detail=3+0 tickets=senior:2,adult:1")
add("wed", "경로우대 두 명", "party=2 detail=2+0 tickets=senior:2")
add("wed", "청소년 두 명", "party=2 detail=0+2 tickets=teen:2")
add("wed", "청소년 2 성인 1", "party=3 detail=1+2 tickets=adult:1,teen:2")
add("wed", "어른 2 애 1", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "성인 한 장 청소년 한 장", "party=2 detail=1+1 tickets=adult:1,teen:1")
add("wed", "어른 넷", "party=4 detail=4+0 tickets=adult:4")
add("wed", "아이 셋 어른 둘", "party=5 detail=2+3 tickets=adult:2,child:3")
add("wed", "성인두명 어린이한명", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "어른 두 장 어린이 한 장이요", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "two adults and one child", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "adults 2 kids 1", "party=3 detail=2+1 tickets=adult:2,child:1")
add("wed", "one adult two kids", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "2 seniors please", "party=2 detail=2+0 tickets=senior:2")
add("wed", "two adults one teen", "party=3 detail=2+1 tickets=adult:2,teen:1")
add("wed", "me and my two grandkids", "party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "my wife and I", "party=2")
add("wed", "just me", "party=1")
add("wed", "the two of us", "party=2")
add("wed", "a couple", "party=2")
add("wed", "me and three friends", "party=4")
add("wed", "four of us including me", "party=4")
add("wed", "for me and my husband", "party=2")

# --- relative corrections (prior slots) ----------------------------------------
add("wed", "한 명 더요", "party=3 act=correct", "party=2")
add("wed", "한 명 더 있어요", "party=4 act=correct", "party=3")
add("wed", "두 명 더 추가요", "party=4 act=correct", "party=2")
add("wed", "한 명 빼 주세요", "party=2 act=correct", "party=3")
add("wed", "한 명 줄여 주세요", "party=3 act=correct", "party=4")
add("wed", "하나 빼고요", "party=1 act=correct", "party=2")
add("wed", "한 명 안 가요", "party=2 act=correct", "party=3")
add("wed", "아 한 사람 더 와요", "party=3 act=correct", "party=2")
add("wed", "인원 하나 늘려 주세요", "party=4 act=correct", "party=3")
add("wed", "one more person", "party=3 act=correct", "party=2")
add("wed", "one fewer please", "party=2 act=correct", "party=3")
add("wed", "add one more", "party=5 act=correct", "party=4")
add("wed", "actually make it 4", "party=4 act=correct", "party=2")
add("wed", "make it three people", "party=3 act=correct", "party=2")
add("wed", "actually make it 8", "time=~8:00 act=correct", "time=~7:00")
add("wed", "make it 9 instead", "time=~9:00 act=correct", "time=~7:00")
add("wed", "make it 7:30", "time=~7:30 act=correct", "time=~7:00")
add("wed", "아니 8시로 해 주세요", "time=~8:00 act=correct", "time=~7:00")
add("wed", "여덟 시 말고 아홉 시로", "time=~9:00 act=correct", "time=~8:00")
add("wed", "한 시간 늦게요", "time=20:00 act=correct", "time=19:00")
add("wed", "아니 레옹으로 바꿀게요", "movie=leon act=correct", "movie=matrix")
add("wed", "다른 영화로 세 얼간이", "movie=idiots act=correct", "movie=leon")
add("wed", "날짜 바꿔서 일요일로", "date=sun act=correct", "date=sat")
add("wed", "토요일 말고 그 다음 날", "date=sun act=correct", "date=sat")
add("wed", "하루 뒤로요", "date=+2 act=correct", "date=tomorrow")
add("wed", "홍대 말고 강남으로 가야겠어요", "theater=gangnam act=correct", "theater=hongdae")
add("wed", "아니 두 명 아니고 세 명", "party=3 act=correct", "party=2")
add("wed", "세 명이 아니라 네 명이에요", "party=4 act=correct", "party=3")
add("wed", "아 잠깐 애 하나 더 있어요", "party=4 act=correct", "party=3")
add("wed", "not Saturday, Sunday", "date=sun act=correct", "date=sat")
add("wed", "no, the 9 o'clock one", "time=~9:00 act=correct", "time=~7:00")
add("wed", "change it to Friday", "date=fri act=correct", "date=sat")
add("wed", "아니 앞쪽 말고 뒤쪽", "position=back act=correct", "position=front")
add("wed", "일반석으로 바꿔 주세요", "class=standard act=correct", "class=premium")
add("wed", "프리미엄 말고 그냥 일반으로요", "class=standard act=correct", "class=premium")

# --- English: approximate times, weekday-plus-week -----------------------------
add("wed", "around 7 tomorrow", "time=~7:00 date=tomorrow")
add("wed", "around 7 pm on Saturday", "time=19:00 date=sat")
add("wed", "7ish", "time=~7:00")
add("wed", "sevenish tonight", "time=19:00 date=today")
add("wed", "around eight in the evening", "time=20:00")
add("wed", "something around 3 in the afternoon", "time=15:00")
add("wed", "about half past seven", "time=~7:30")
add("wed", "at quarter past two pm", "time=14:15")
add("wed", "Friday next week", "date=next:fri")
add("wed", "next Friday evening", "date=next:fri time=17:00-22:00")
add("wed", "Saturday next week for The Matrix", "date=next:sat movie=matrix")
add("wed", "this Saturday afternoon", "date=sat time=12:00-17:00")
add("wed", "this coming Sunday", "date=sun")
add("wed", "tomorrow night around 9", "date=tomorrow time=21:00")
add("wed", "Leon tomorrow around 8ish", "movie=leon date=tomorrow time=~8:00")
add("wed", "The Matrix, Saturday, 2 tickets", "movie=matrix date=sat party=2")
add("wed", "two tickets for Spirited Away this Sunday at 1", "party=2 movie=spirited date=sun time=~1:00")
add("wed", "Back to the Future on December 3rd", "movie=bttf date=12-03")
add("wed", "3 Idiots on the 29th", "movie=idiots date=d29")
add("wed", "Memories of Murder Friday night in Gangnam", "movie=murder date=fri time=20:00-24:00 theater=gangnam")
add("wed", "at the Hongdae one", "theater=hongdae")
add("wed", "back row seats for two", "position=back party=2")
add("wed", "aisle seats please", "position=aisle")
add("wed", "near the front", "position=front")
add("wed", "somewhere in the middle", "position=middle")
add("wed", "a wheelchair space and one companion seat", "class=wheelchair party=2")
add("wed", "premium seats for 2", "class=premium party=2")
add("wed", "regular seats are fine", "class=standard")
add("sun", "the day after tomorrow at 6 pm", "date=+2 time=18:00")
add("sun", "Wednesday at noon", "date=wed time=12:00")

# --- elderly and spoken phrasing -----------------------------------------------
add("wed", "그 매트릭스라는 거 내일 볼 수 있나", "movie=matrix date=tomorrow")
add("wed", "손주들이랑 볼 만한 거 토요일에", "date=sat")
add("wed", "우리 손주 둘이랑 나랑 센과 치히로", "movie=spirited party=3 detail=1+2 tickets=adult:1,child:2")
add("wed", "저녁 먹고 일곱 시쯤", "time=19:00")
add("wed", "일곱 시쯤 레옹", "time=~7:00 movie=leon")
add("wed", "두 시쯤 되는 거", "time=~2:00")
add("wed", "점심 먹고 오후 두 시", "time=14:00")
add("wed", "아침 일찍 열 시", "time=10:00")
add("wed", "새벽 말고 낮에", "time=12:00-17:00")
add("wed", "너무 늦지 않은 저녁 시간", "time=17:00-22:00")
add("wed", "그 레옹 그거 두 장만", "movie=leon party=2")
add("wed", "표 두 장 주세요", "party=2")
add("wed", "세 장 끊어 주세요", "party=3")
add("wed", "네 자리 잡아 줘요", "party=4")
add("wed", "자리 두 개요", "party=2")
add("wed", "표 한 장이면 돼요", "party=1")
add("wed", "다리가 불편해서 휠체어 자리요", "class=wheelchair")
add("wed", "휠체어 타는 사람 하나랑 보호자 하나", "class=wheelchair party=2")
add("wed", "장애인 좌석 하나 보호자 하나", "class=wheelchair party=2")
add("wed", "좋은 자리 프리미엄으로", "class=premium")
add("wed", "비싼 자리 말고 보통 자리", "class=standard")
add("wed", "일반석이요", "class=standard")
add("wed", "뒷자리로 부탁해요", "position=back")
add("wed", "맨 뒷줄로 앉고 싶어요", "position=back")
add("wed", "제일 뒤에", "position=back")
add("wed", "화면에서 먼 자리", "position=back")
add("wed", "화면 가까운 데로", "position=front")
add("wed", "앞쪽 좌석으로요", "position=front")
add("wed", "중간쯤으로요", "position=middle")
add("wed", "정중앙 자리", "position=middle")
add("wed", "화장실 가기 편하게 통로 쪽", "position=aisle")
add("wed", "복도 옆자리로", "position=aisle")
add("wed", "통로쪽 두 자리", "position=aisle party=2")
add("wed", "강남에 있는 마키에서요", "theater=gangnam")
add("wed", "홍대 쪽 극장이요", "theater=hongdae")
add("wed", "예매 좀 해 줘요 매트릭스", "movie=matrix")
add("wed", "살인의 추억 그거 아직 해요", "movie=murder")
add("wed", "센과 치히로 그 만화 영화 토요일에 해요", "movie=spirited date=sat")
add("wed", "빽 투 더 퓨처 다음 주 수요일", "movie=bttf date=next:wed")
add("wed", "세 얼간이 이번 주 금요일 저녁 여덟 시", "movie=idiots date=fri time=20:00")

# --- dialogue acts ---------------------------------------------------------------
for t in ["네 그렇게 해 주세요", "예 그렇게 해줘요", "그래요 그걸로", "네 맞아요 그렇게요", "좋아요 그걸로 예매해 주세요",
          "그려 그렇게 해", "네에", "예예", "맞습니다", "그렇게 하세요", "오케이", "네 결제해 주세요",
          "yes that's right", "yes go ahead and book it", "that's correct", "yup book it"]:
    add("wed", t, "act=yes")
for t in ["그거 말고요", "그거 아니에요", "아니 그거 말고", "그건 싫어요", "다른 거요", "그거 말고 다른 거",
          "no not that one", "not that one please", "something else", "no, a different one"]:
    add("wed", t, "act=no")
for t in ["천천히 다시 말해 주세요", "다시 한번 천천히요", "너무 빨라요", "좀 천천히 말해 줘요", "못 알아들었어요",
          "다시 한 번만 얘기해 줘요", "방금 뭐라고 했어요", "잘 안 들려요 다시요", "뭐라구요", "네 뭐라고요",
          "say that slower please", "slower please", "can you say that again slowly", "I didn't catch that", "come again?"]:
    add("wed", t, "act=repeat")
for t in ["예매 안 할래요", "다 그만둘게요", "취소할게요", "그냥 취소해 줘요", "됐어요 안 볼래요",
          "cancel everything", "I don't want it anymore, cancel"]:
    add("wed", t, "act=cancel")
for t in ["시간 좀 더 주세요", "조금만 더 기다려 주세요 시간 연장", "좀 더 잡아 둘 수 있어요", "hold it a bit longer please"]:
    add("wed", t, "act=extend")

rng = random.Random(20261203)
rng.shuffle(L)
cut = len(L) * 2 // 3
here = __file__.rsplit("/", 1)[0]
for name, part, base in (("fresh", L[:cut], 0), ("heldout", L[cut:], cut)):
    with open(f"{here}/{name}.jsonl", "w") as f:
        for i, (now, text, spec, prior) in enumerate(part):
            row = {"id": f"f{base+i+1:03d}", "now": NOWS[now], "text": text, "expect": slots(spec, now)}
            if prior:
                row["prior"] = slots(prior, now)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
ko = sum(1 for x in L if re.search("[가-힣]", x[1]))
print(len(L), "lines,", ko, "Korean", f"({100*ko/len(L):.0f}%);", cut, "fresh,", len(L) - cut, "heldout")
