// voice: the big microphone button. Uses the browser's speech recognition
// (ko-KR or en-US), shows the partial transcript and streams it as
// voice_partial frames with increasing revisions, sends the final one as
// voice_final, and voice_cancel when the user cancels. Without speech
// recognition the button says so and hands over to the text box.

import { t, speechTag, language } from "./i18n.js";

export class Voice {
  /** els: {mic, cancel, partial, note, input}; chat: Chat. */
  constructor(conn, chat, els) {
    this.conn = conn;
    this.chat = chat;
    this.els = els;
    this.Recognition = window.SpeechRecognition || window.webkitSpeechRecognition || null;
    this.rec = null;
    this.utterance = null;
    this.revision = 0;
    this.finalSent = false;
    els.mic.dataset.supported = String(Boolean(this.Recognition));
    els.mic.addEventListener("click", () => (this.rec ? this.stop() : this.start()));
    els.cancel.addEventListener("click", () => this.cancel());
    this.idle();
  }

  idle() {
    this.els.mic.setAttribute("aria-pressed", "false");
    this.els.mic.querySelector(".label").textContent = t("mic_start");
    this.els.cancel.hidden = true;
  }

  start() {
    if (!this.Recognition) {
      this.els.note.textContent = t("mic_unsupported");
      this.els.input.focus();
      return;
    }
    const rec = new this.Recognition();
    rec.lang = speechTag();
    rec.interimResults = true;
    rec.continuous = false;
    this.rec = rec;
    this.utterance = `u-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.revision = 0;
    this.finalSent = false;
    this.els.partial.textContent = "";
    this.els.note.textContent = t("mic_listening");
    this.els.mic.setAttribute("aria-pressed", "true");
    this.els.mic.querySelector(".label").textContent = t("mic_stop");
    this.els.cancel.hidden = false;
    rec.onresult = (ev) => this.onResult(ev);
    rec.onerror = (ev) => {
      if (ev.error !== "aborted") this.els.note.textContent = ev.error === "not-allowed" || ev.error === "service-not-allowed" ? t("mic_denied") : t("mic_error");
    };
    rec.onend = () => {
      this.rec = null;
      this.idle();
      if (this.els.note.textContent === t("mic_listening")) this.els.note.textContent = "";
    };
    try {
      rec.start();
    } catch {
      this.rec = null;
      this.idle();
      this.els.note.textContent = t("mic_error");
    }
  }

  onResult(ev) {
    let text = "";
    let final = false;
    for (let i = 0; i < ev.results.length; i++) {
      text += ev.results[i][0].transcript;
      final = ev.results[i].isFinal;
    }
    text = text.trim();
    if (!text || this.finalSent) return;
    this.els.partial.textContent = text;
    if (final) {
      this.finalSent = true;
      this.els.partial.textContent = "";
      this.els.note.textContent = "";
      this.chat.sendVoice(this.utterance, text);
    } else {
      this.conn.send({
        type: "voice_partial",
        utterance_id: this.utterance,
        revision: this.revision++,
        conversation: this.chat.conversation,
        text,
        locale: language(),
      });
    }
  }

  stop() {
    this.rec?.stop();
  }

  cancel() {
    if (this.utterance && !this.finalSent) this.conn.send({ type: "voice_cancel", utterance_id: this.utterance });
    this.finalSent = true;
    this.rec?.abort();
    this.rec = null;
    this.els.partial.textContent = "";
    this.els.note.textContent = "";
    this.idle();
  }
}
