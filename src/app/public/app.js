// The chat page: log in, send messages, render the streamed answer.
// The server answers POST /api/chat with server-sent events (progress, delta, done, error);
// EventSource cannot POST, so the stream is read with fetch and parsed by eventsource-parser, the
// same parser the server's providers and the tests use (its browser build, served by the web server).
import { createParser } from "/vendor/eventsource-parser.js";
import { fitHistory } from "/history.js";

const $ = (id) => document.getElementById(id);
const history = [];
let busy = false;
/** The chat route's limits (GET /api/chat/limits), read once. */
let limits;

async function chatLimits() {
  if (!limits) {
    const response = await fetch("/api/chat/limits", { credentials: "same-origin" });
    if (!response.ok) throw new Error("The server could not handle the request. Please try again.");
    limits = await response.json();
    $("input").maxLength = limits.maxMessageChars;
  }
  return limits;
}

const STAGE_WORDS = {
  queued: "Waiting for a free GPU worker…",
  "cold-start": "Starting a GPU worker… the first answer after a quiet period can take a minute or two.",
  running: "Thinking…",
};

function show(loggedIn, username) {
  if (!loggedIn) {
    history.length = 0;
    $("messages").textContent = "";
    $("trim-note").hidden = true;
    $("cost").hidden = true;
  }
  $("login").hidden = loggedIn;
  $("chat").hidden = !loggedIn;
  $("whoami").textContent = loggedIn ? `Signed in as ${username}` : "";
  if (loggedIn) $("input").focus();
}

function setStatus(text, isError) {
  $("status").textContent = text || "";
  $("status").classList.toggle("error", Boolean(isError));
}

function addMessage(role, text) {
  const li = document.createElement("li");
  li.className = role;
  li.textContent = text;
  $("messages").appendChild(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON */ }
  if (response.status === 401) return "Please log in again.";
  if (response.status === 429) return "You are sending messages too quickly. Please wait a moment.";
  return "The server could not handle the request. Please try again.";
}

async function checkSession() {
  const response = await fetch("/api/session", { credentials: "same-origin" });
  if (response.ok) show(true, (await response.json()).username);
  else show(false);
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    if (!response.ok) { $("login-error").textContent = await errorText(response); return; }
    $("password").value = "";
    show(true, (await response.json()).username);
  } catch (_) {
    $("login-error").textContent = "The server cannot be reached. Check your connection and try again.";
  }
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" }).catch(() => undefined);
  show(false);
});

// Ends every session of this account (other browsers and devices too), then this one.
$("logout-everywhere").addEventListener("click", async () => {
  try {
    const response = await fetch("/api/logout-everywhere", { method: "POST", credentials: "same-origin" });
    if (!response.ok && response.status !== 401) { setStatus(await errorText(response), true); return; }
  } catch (_) {
    setStatus("The server cannot be reached, so the other sessions are still open. Please try again.", true);
    return;
  }
  show(false);
  $("login-error").textContent = "You are logged out everywhere.";
});

// Enter sends; Shift+Enter (and Enter while an input method is composing) makes a new line.
$("input").addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  $("composer").requestSubmit();
});

function sayTrimmed({ dropped, shortened }) {
  const parts = [];
  if (dropped > 0) parts.push(`the ${dropped} oldest message${dropped === 1 ? " was" : "s were"} left out`);
  if (shortened > 0) parts.push(`${shortened} long message${shortened === 1 ? " was" : "s were"} shortened`);
  $("trim-note").hidden = parts.length === 0;
  $("trim-note").textContent = parts.length ? `To stay within the server's limits, ${parts.join(" and ")} in what the model was sent.` : "";
}

/** The last chat's GPU time and cost, from the done event (absent when the backend reports no job times). */
function showCost(cost) {
  if (!cost || typeof cost.gpuSeconds !== "number") { $("cost").hidden = true; return; }
  const usd = typeof cost.usd === "number" ? ` · about $${cost.usd < 0.01 ? cost.usd.toFixed(4) : cost.usd.toFixed(2)}` : "";
  $("cost").textContent = `Last answer: ${cost.gpuSeconds.toFixed(1)} GPU seconds${usd}`;
  $("cost").hidden = false;
}

// Yields {event, data} for each server-sent event of a response body, as it arrives.
async function* readEvents(body) {
  const pending = [];
  const parser = createParser({ onEvent: (e) => pending.push({ event: e.event || "message", data: JSON.parse(e.data) }) });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      yield* pending.splice(0);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("input").value.trim();
  if (!text || busy) return;
  busy = true;
  $("send").disabled = true;
  $("input").value = "";
  addMessage("user", text);
  history.push({ role: "user", content: text });
  const bubble = addMessage("assistant", "");
  let answer = "";
  let finished = false;
  setStatus("Sending…");
  try {
    const fitted = fitHistory(history, await chatLimits());
    sayTrimmed(fitted);
    const response = await fetch("/api/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ messages: fitted.messages }),
    });
    if (!response.ok) {
      if (response.status === 401) show(false);
      throw new Error(await errorText(response));
    }
    for await (const { event: kind, data } of readEvents(response.body)) {
      if (kind === "progress") setStatus(STAGE_WORDS[data.stage] || "Working…");
      else if (kind === "delta") { answer += data.text; bubble.textContent = answer; setStatus(""); }
      else if (kind === "done") { finished = true; setStatus(""); showCost(data.cost); }
      else if (kind === "error") throw new Error(data.message || "The model could not answer.");
    }
    if (!finished) throw new Error("The connection was interrupted before the answer was complete.");
    history.push({ role: "assistant", content: answer });
  } catch (err) {
    history.pop();
    if (!answer) bubble.remove();
    const message = err instanceof TypeError ? "The server cannot be reached. Check your connection and try again." : err.message;
    setStatus(message, true);
  } finally {
    busy = false;
    $("send").disabled = false;
  }
});

checkSession().catch(() => show(false));
chatLimits().catch(() => undefined);
