// The chat page: log in, send messages, render the streamed answer.
// The server answers POST /api/chat with server-sent events (progress, delta, done, error);
// EventSource cannot POST, so the stream is read with fetch and parsed by eventsource-parser, the
// same parser the server's providers and the tests use (its browser build, served by the web server).
import { createParser } from "/vendor/eventsource-parser.js";

const $ = (id) => document.getElementById(id);
const history = [];
let busy = false;

const STAGE_WORDS = {
  queued: "Waiting for a free GPU worker…",
  "cold-start": "Starting a GPU worker… the first answer after a quiet period can take a minute or two.",
  running: "Thinking…",
};

function show(loggedIn, username) {
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
  history.length = 0;
  $("messages").textContent = "";
  show(false);
});

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
    const response = await fetch("/api/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ messages: history.slice(-40) }),
    });
    if (!response.ok) {
      if (response.status === 401) show(false);
      throw new Error(await errorText(response));
    }
    for await (const { event: kind, data } of readEvents(response.body)) {
      if (kind === "progress") setStatus(STAGE_WORDS[data.stage] || "Working…");
      else if (kind === "delta") { answer += data.text; bubble.textContent = answer; setStatus(""); }
      else if (kind === "done") { finished = true; setStatus(""); }
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
