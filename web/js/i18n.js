// i18n: the Korean and English words of the interface, and the language switch.
// Elements name their text with data-i18n (text), data-i18n-label (aria-label)
// or data-i18n-placeholder; apply() fills them. Nothing else in the client
// holds user-visible wording.

const WORDS = {
  ko: {
    app_title: "마키 영화 예매",
    skip: "본문으로 건너뛰기",
    lang_toggle: "English",
    lang_toggle_label: "Switch to English",
    text_size: "글자 크기",
    text_smaller: "글자 작게",
    text_larger: "글자 크게",
    read_aloud: "읽어 주기",
    read_rate: "읽는 빠르기",
    tab_chat: "대화로 예매",
    tab_seats: "단계별 예매",
    tab_bookings: "내 예매",
    nav_label: "화면 선택",
    conn_online: "연결됨",
    conn_connecting: "연결하는 중…",
    conn_offline: "연결 끊김 · 다시 연결하는 중 ({s}초 후)",
    conn_failed: "연결할 수 없어요. 페이지를 새로 고쳐 주세요.",
    chat_heading: "영화 도우미와 대화",
    chat_intro: "무엇이든 물어보세요. 예: \"토요일 저녁에 가족이랑 볼 영화 있어?\" 말로 하려면 마이크 버튼을 누르세요.",
    chat_label: "보낼 말",
    chat_placeholder: "여기에 입력하세요",
    send: "보내기",
    you: "나",
    bot: "도우미",
    thinking: "답을 준비하고 있어요…",
    queued: "잠시만 기다려 주세요. 앞에 {n}개의 요청이 있어요.",
    restarting: "답을 처음부터 다시 쓰고 있어요.",
    source: "출처",
    source_movie: "마키 영화 정보",
    source_review: "관객 리뷰",
    suggestions: "빠른 답",
    action_ok: "처리했어요",
    action_failed: "처리하지 못했어요",
    action_hold: "좌석 {seats}을(를) 잡아 두었어요.",
    action_confirm: "예매를 마쳤어요: {seats}",
    action_release: "잡아 둔 좌석을 풀었어요.",
    action_cancel: "예매를 취소했어요.",
    action_find: "상영 시간을 찾아봤어요.",
    action_extend: "좌석 시간을 늘렸어요.",
    action_list: "예매 내역을 확인했어요.",
    send_failed: "보내지 못했어요. 연결되면 다시 보내 주세요.",
    rate_limited: "조금 천천히 보내 주세요.",
    chat_unavailable: "지금은 도우미가 답할 수 없어요. 잠시 후 다시 해 주세요.",
    mic_start: "말하기",
    mic_stop: "말하기 끝내기",
    mic_cancel: "말한 것 취소",
    mic_listening: "듣고 있어요…",
    mic_unsupported: "이 브라우저에서는 말로 입력할 수 없어요. 아래 글상자에 입력해 주세요.",
    mic_error: "소리를 듣지 못했어요. 다시 눌러 주세요.",
    heard: "들은 말",
    showtimes_heading: "상영 시간 고르기",
    showtimes_date: "날짜",
    showtime_pick: "{time} {title} · {theater} {screen}관",
    seats_heading: "좌석을 고르세요",
    seats_none: "위에서 상영 시간을 고르세요.",
    screen: "스크린",
    legend_free: "빈 좌석",
    legend_selected: "고른 좌석 ✓",
    legend_held: "다른 사람이 잡음 (빗금)",
    legend_mine: "내가 잡아 둠",
    legend_sold: "팔림 ×",
    seat_label: "{seat} {cls} {price}원 {state}",
    seat_free: "빈 좌석",
    seat_held: "다른 사람이 잡음",
    seat_sold: "팔림",
    seat_mine: "내가 잡아 둠",
    seat_selected: "고름",
    class_standard: "일반석",
    class_premium: "프리미엄석",
    class_wheelchair: "휠체어석",
    selected_count: "고른 좌석 {n}개: {seats} · 합계 {total}원",
    selected_none: "좌석을 눌러서 고르세요.",
    hold_button: "좌석 잡고 확인하기",
    clear_selection: "고른 것 지우기",
    hold_heading: "잡아 둔 좌석",
    hold_seats: "좌석 {seats} · {amount}원",
    hold_left: "남은 시간 {m}분 {s}초",
    hold_warning: "곧 시간이 끝나요! 더 필요하면 '시간 연장'을 누르세요.",
    hold_expired: "시간이 지나 좌석이 풀렸어요.",
    extend: "시간 연장",
    confirm: "예매 확정",
    release: "좌석 풀기",
    hold_failed: "그 좌석은 이미 다른 사람이 잡았어요: {seats}",
    confirmed: "예매를 마쳤어요! 좌석 {seats}",
    error_generic: "문제가 생겼어요 ({code}). 다시 해 주세요.",
    bookings_heading: "내 예매",
    bookings_none: "아직 예매가 없어요.",
    booking_line: "{title} · {time} · {theater} · 좌석 {seats} · {amount}원",
    booking_cancelled: "취소됨",
    cancel_booking: "예매 취소",
    cancel_confirm: "정말 취소할까요?",
    refresh: "새로 고침",
    loading: "불러오는 중…",
    theater_gangnam: "마키 강남",
    theater_hongdae: "마키 홍대",
    settings: "설정",
    conn_label: "연결 상태",
    bar_total: "{n}석 · 합계 {total}원",
    bar_none: "좌석을 고르면 합계가 나와요",
    flow_heading: "단계별 예매",
    progress_label: "예매 단계",
    step_movie: "1 영화",
    step_time: "2 시간",
    step_seats: "3 좌석",
    step_review: "4 확인",
    step_done: "5 완료",
    movie_heading: "어떤 영화를 볼까요?",
    movie_sub: "이번 주 {n}회 상영 · {days}일",
    time_heading: "언제 볼까요?",
    back_movie: "← 다른 영화",
    back_time: "← 다른 시간",
    back_seats: "← 좌석 다시 보기",
    screen_n: "{screen}관",
    seats_left: "남은 좌석 {free}/{total}",
    legend_label: "좌석 표시 설명",
    legend_booked: "내가 예매함",
    legend_class: "{cls} {price}원",
    seat_booked: "내가 예매함",
    zoom_label: "좌석표 크기",
    zoom_out: "작게 보기",
    zoom_in: "크게 보기",
    row_label: "{row}열",
    overview_label: "상영관 전체: 빈 좌석 {free}개 / 전체 {total}개",
    won: "원",
    held_line: "잡아 둔 좌석 {seats}",
    to_review: "확인 화면으로",
    review_heading: "예매 내용을 확인하세요",
    tickets_follow_up: "관람권 종류(어른·어린이 등)는 곧 고를 수 있어요. 지금은 좌석 등급 가격으로 계산해요.",
    fact_movie: "영화",
    fact_time: "시간",
    fact_theater: "극장",
    fact_seats: "좌석",
    fact_total: "합계",
    theater_screen: "{theater} {screen}관",
    seat_line: "{seat} · {cls} · {price}원",
    amount: "{amount}원",
    extended_by: "{am}분 {as}초 늘렸어요. 남은 시간 {m}분 {s}초.",
    extend_limit: "더는 시간을 늘릴 수 없어요.",
    done_heading: "예매를 마쳤어요",
    done_seats: "좌석 {seats}",
    booking_code: "예매번호 {code}",
    done_bookings: "내 예매 보기",
    done_again: "다른 영화 예매하기",
    cancel_title: "이 예매를 취소할까요?",
    cancel_what: "{booking}. 취소하면 {amount}원을 돌려드려요. 되돌릴 수 없어요.",
    cancel_yes: "예매 취소하기",
    cancel_no: "취소하지 않기",
    cancelled_refund: "예매를 취소했어요. {amount}원을 돌려드려요.",
    mic_denied: "마이크 사용이 허락되지 않았어요. 브라우저 설정에서 마이크를 허용하거나 아래 글상자에 입력해 주세요.",
    chat_dropped: "연결이 끊겨서 답을 받지 못했어요.",
    resend: "다시 보내기",
    action_open: "확인 화면 보기",
  },
  en: {
    app_title: "Marquee Cinema",
    skip: "Skip to content",
    lang_toggle: "한국어",
    lang_toggle_label: "한국어로 바꾸기",
    text_size: "Text size",
    text_smaller: "Smaller text",
    text_larger: "Larger text",
    read_aloud: "Read aloud",
    read_rate: "Reading speed",
    tab_chat: "Book by chat",
    tab_seats: "Step by step",
    tab_bookings: "My bookings",
    nav_label: "Choose a screen",
    conn_online: "Connected",
    conn_connecting: "Connecting…",
    conn_offline: "Disconnected · trying again in {s} s",
    conn_failed: "Cannot connect. Please reload the page.",
    chat_heading: "Talk to the movie helper",
    chat_intro: "Ask anything, for example \"Any family movie on Saturday evening?\" To speak, press the microphone button.",
    chat_label: "Your message",
    chat_placeholder: "Type here",
    send: "Send",
    you: "You",
    bot: "Helper",
    thinking: "Preparing an answer…",
    queued: "Please wait a moment. {n} requests are ahead of yours.",
    restarting: "Writing the answer again from the start.",
    source: "Source",
    source_movie: "Marquee movie info",
    source_review: "audience review",
    suggestions: "Quick replies",
    action_ok: "Done",
    action_failed: "Could not do it",
    action_hold: "Seats {seats} are held for you.",
    action_confirm: "Booked: {seats}",
    action_release: "The held seats were released.",
    action_cancel: "The booking was cancelled.",
    action_find: "Looked up showtimes.",
    action_extend: "More time for the held seats.",
    action_list: "Checked your bookings.",
    send_failed: "Could not send. Please try again when connected.",
    rate_limited: "Please send a little more slowly.",
    chat_unavailable: "The helper cannot answer right now. Please try again soon.",
    mic_start: "Speak",
    mic_stop: "Stop speaking",
    mic_cancel: "Cancel what I said",
    mic_listening: "Listening…",
    mic_unsupported: "This browser cannot take speech. Please type in the box below.",
    mic_error: "I could not hear you. Please press again.",
    heard: "Heard",
    showtimes_heading: "Choose a showtime",
    showtimes_date: "Date",
    showtime_pick: "{time} {title} · {theater} screen {screen}",
    seats_heading: "Choose your seats",
    seats_none: "Choose a showtime above.",
    screen: "Screen",
    legend_free: "Free",
    legend_selected: "Chosen ✓",
    legend_held: "Held by someone (striped)",
    legend_mine: "Held by you",
    legend_sold: "Sold ×",
    seat_label: "{seat} {cls} {price} won {state}",
    seat_free: "free",
    seat_held: "held by someone",
    seat_sold: "sold",
    seat_mine: "held by you",
    seat_selected: "chosen",
    class_standard: "standard",
    class_premium: "premium",
    class_wheelchair: "wheelchair",
    selected_count: "{n} chosen: {seats} · total {total} won",
    selected_none: "Tap seats to choose them.",
    hold_button: "Hold seats and review",
    clear_selection: "Clear choice",
    hold_heading: "Your held seats",
    hold_seats: "Seats {seats} · {amount} won",
    hold_left: "Time left {m} min {s} s",
    hold_warning: "Time is almost up! Press 'More time' if you need it.",
    hold_expired: "Time ran out and the seats were released.",
    extend: "More time",
    confirm: "Confirm booking",
    release: "Release seats",
    hold_failed: "Someone else already holds: {seats}",
    confirmed: "Booked! Seats {seats}",
    error_generic: "Something went wrong ({code}). Please try again.",
    bookings_heading: "My bookings",
    bookings_none: "No bookings yet.",
    booking_line: "{title} · {time} · {theater} · seats {seats} · {amount} won",
    booking_cancelled: "cancelled",
    cancel_booking: "Cancel booking",
    cancel_confirm: "Cancel this booking?",
    refresh: "Refresh",
    loading: "Loading…",
    theater_gangnam: "Marquee Gangnam",
    theater_hongdae: "Marquee Hongdae",
    settings: "Settings",
    conn_label: "Connection",
    bar_total: "{n} seats · total {total} won",
    bar_none: "Choose seats to see the total",
    flow_heading: "Book step by step",
    progress_label: "Booking steps",
    step_movie: "1 Movie",
    step_time: "2 Time",
    step_seats: "3 Seats",
    step_review: "4 Review",
    step_done: "5 Done",
    movie_heading: "Which movie?",
    movie_sub: "{n} shows this week · {days} days",
    time_heading: "When?",
    back_movie: "← Other movie",
    back_time: "← Other time",
    back_seats: "← Back to seats",
    screen_n: "screen {screen}",
    seats_left: "{free} of {total} seats left",
    legend_label: "What the seat marks mean",
    legend_booked: "Booked by you",
    legend_class: "{cls} {price} won",
    seat_booked: "booked by you",
    zoom_label: "Seat map size",
    zoom_out: "Zoom out",
    zoom_in: "Zoom in",
    row_label: "row {row}",
    overview_label: "Whole hall: {free} of {total} seats free",
    won: " won",
    held_line: "Held for you: {seats}",
    to_review: "Go to review",
    review_heading: "Check your booking",
    tickets_follow_up: "Ticket types (adult, child…) are coming soon. Prices are by seat class for now.",
    fact_movie: "Movie",
    fact_time: "Time",
    fact_theater: "Theater",
    fact_seats: "Seats",
    fact_total: "Total",
    theater_screen: "{theater} screen {screen}",
    seat_line: "{seat} · {cls} · {price} won",
    amount: "{amount} won",
    extended_by: "{am} min {as} s added. Time left {m} min {s} s.",
    extend_limit: "The time cannot be extended any more.",
    done_heading: "You are booked",
    done_seats: "Seats {seats}",
    booking_code: "Booking code {code}",
    done_bookings: "See my bookings",
    done_again: "Book another movie",
    cancel_title: "Cancel this booking?",
    cancel_what: "{booking}. {amount} won will be refunded. This cannot be undone.",
    cancel_yes: "Cancel the booking",
    cancel_no: "Keep the booking",
    cancelled_refund: "The booking is cancelled. {amount} won will be refunded.",
    mic_denied: "Microphone permission was denied. Allow the microphone in the browser's settings, or type in the box below.",
    chat_dropped: "The connection dropped, so this message was not answered.",
    resend: "Send again",
    action_open: "Open the review",
  },
};

const listeners = new Set();
let lang = pickDefault();

function pickDefault() {
  const saved = localStorage.getItem("marquee.lang");
  if (saved === "ko" || saved === "en") return saved;
  return (navigator.language || "ko").toLowerCase().startsWith("ko") ? "ko" : "en";
}

/** The current language, "ko" or "en". */
export function language() {
  return lang;
}

/** The BCP 47 tag for speech (recognition and synthesis). */
export function speechTag() {
  return lang === "ko" ? "ko-KR" : "en-US";
}

/** The text for `key` in the current language, with {name} filled from vars. */
export function t(key, vars = {}) {
  const s = WORDS[lang][key] ?? WORDS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? "").toString());
}

/** Switches the language, fills the page again and tells every listener. */
export function setLanguage(next) {
  lang = next === "en" ? "en" : "ko";
  localStorage.setItem("marquee.lang", lang);
  apply(document);
  for (const f of listeners) f(lang);
}

/** Calls f(lang) after every language switch. */
export function onLanguage(f) {
  listeners.add(f);
}

/** Fills every data-i18n* element under root. */
export function apply(root) {
  document.documentElement.lang = lang;
  document.title = t("app_title");
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/** A showtime's movie title in the current language. */
export function titleOf(st) {
  return (lang === "ko" ? st.title_ko || st.title : st.title) ?? st.movie;
}

/** A showtime's theater name in the current language. */
export function theaterOf(st) {
  const fromApi = lang === "ko" ? st.theater_name_ko || st.theater_name : st.theater_name;
  if (fromApi) return fromApi;
  const named = t(`theater_${st.theater}`);
  return named.startsWith("theater_") ? st.theater : named;
}

/** Formats won amounts and times for the current language. */
/** A booking code in two groups of four, as it is read out ("QAKN 9PHT"). */
export function spacedCode(code) {
  return code.length === 8 ? `${code.slice(0, 4)}\u00a0${code.slice(4)}` : code;
}

export function money(n) {
  return new Intl.NumberFormat(lang === "ko" ? "ko-KR" : "en-US").format(n);
}

/** "토 11/28 19:00"-style start time of an RFC 9557 `starts_at` (Asia/Seoul). */
export function showTime(startsAt) {
  const iso = String(startsAt).replace(/\[.*\]$/, "");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(startsAt);
  return new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-US", {
    timeZone: "Asia/Seoul",
    weekday: "short",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(d);
}

/** "11월 28일 토요일"-style name of a `YYYY-MM-DD` day. */
export function dayName(ymd) {
  const d = new Date(`${ymd}T12:00:00+09:00`);
  if (Number.isNaN(d.getTime())) return ymd;
  return new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-US", { timeZone: "Asia/Seoul", weekday: "long", month: "long", day: "numeric" }).format(d);
}
