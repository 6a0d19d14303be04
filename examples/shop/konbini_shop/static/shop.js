// The shop's small bit of JavaScript: friendly client-side checks on the checkout form,
// one submission per click, and the order page's status poll. The server checks everything
// again (the SDK's validation is the authority).
"use strict";

const PHONE_SEPARATORS = /[\s\-().ー－‐]/g;

function phoneProblem(value) {
  // Same rule as the server's, roughly: 10 or 11 digits (a leading +81 counts as 0).
  let text = value.normalize("NFKC").trim();
  if (text.startsWith("+81")) text = "0" + text.slice(3).replace(/^[\s-]+/, "");
  const digits = text.replace(PHONE_SEPARATORS, "");
  if (!/^[0-9]*$/.test(digits)) return "Use digits only (spaces and hyphens are fine).";
  if (digits.length < 10 || digits.length > 11) return "A phone number has 10 or 11 digits.";
  if (/^0+$/.test(digits)) return "The number cannot be all zeros.";
  return "";
}

function showProblem(input) {
  const out = document.getElementById(input.id + "-error");
  if (out) out.textContent = input.validity.valid ? "" : input.validationMessage;
}

function setUpCheckout(form) {
  const phone = form.querySelector("[data-phone]");
  const check = () => phone.setCustomValidity(phoneProblem(phone.value));
  phone.addEventListener("input", check);
  check();
  for (const input of form.querySelectorAll("input")) {
    input.addEventListener("invalid", () => { input.classList.add("touched"); showProblem(input); });
    input.addEventListener("blur", () => { input.classList.add("touched"); showProblem(input); });
  }
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) { event.preventDefault(); return; }  // a second click: ignore
    form.dataset.sent = "1";
    const button = form.querySelector("button[type=submit]");
    // Disable after the browser has taken the button's value for this submission.
    setTimeout(() => { button.disabled = true; button.textContent = "Processing… · 処理中"; }, 0);
  });
}

function setUpOnce(form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
  });
}

function pollOrder(section) {
  const url = section.dataset.orderStatus;
  const every = Number(section.dataset.pollMs) || 1000;
  const tick = async () => {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const now = await answer.json();
        if (now.status !== section.dataset.status ||
            (now.refund_status || "") !== section.dataset.refundStatus) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // The shop is briefly unreachable: try again at the next tick.
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-checkout]")) setUpCheckout(form);
  for (const form of document.querySelectorAll("form[data-once]")) setUpOnce(form);
  const order = document.querySelector("[data-order-status]");
  if (order) pollOrder(order);
});
