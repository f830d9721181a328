// readaloud: speaks the bot's replies with speechSynthesis when the user turns
// it on, at the rate they chose. Does nothing where the browser has no voices.

import { speechTag } from "./i18n.js";

export class ReadAloud {
  constructor(toggle, rate, value) {
    this.toggle = toggle;
    this.rate = rate;
    this.value = value;
    this.on = localStorage.getItem("marquee.readAloud") === "1";
    rate.value = localStorage.getItem("marquee.readRate") || "0.9";
    toggle.setAttribute("aria-pressed", String(this.on));
    toggle.addEventListener("click", () => {
      this.on = !this.on;
      localStorage.setItem("marquee.readAloud", this.on ? "1" : "0");
      toggle.setAttribute("aria-pressed", String(this.on));
      if (!this.on) window.speechSynthesis?.cancel();
    });
    const show = () => {
      const v = `${Number(rate.value).toFixed(1)}×`;
      if (value) value.textContent = v;
      rate.setAttribute("aria-valuetext", v);
    };
    show();
    rate.addEventListener("input", show);
    rate.addEventListener("change", () => {
      show();
      localStorage.setItem("marquee.readRate", rate.value);
    });
  }

  /** Speaks `text` (replacing anything still being read) when read-aloud is on. */
  speak(text) {
    if (!this.on || !text || !("speechSynthesis" in window)) return;
    const u = new SpeechSynthesisUtterance(text);
    u.lang = speechTag();
    u.rate = Number(this.rate.value) || 1;
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(u);
  }
}
