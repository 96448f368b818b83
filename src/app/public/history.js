// Which part of the conversation the page resends with a new message, within the server's limits
// (GET /api/chat/limits: messages per request, characters per message, bytes per body).
// Newest first: a message longer than the limit is cut (an answer may be longer than a question can
// be), and older messages are left out once the count or the body's size would pass the limit.

const encoder = new TextEncoder();
const bytes = (value) => encoder.encode(JSON.stringify(value)).length;
/** Room left in the body for anything beside the messages (the envelope, options). */
const BODY_MARGIN_BYTES = 1024;

/**
 * @param {Array<{role: string, content: string}>} history oldest first, the new message last
 * @param {{maxMessages: number, maxMessageChars: number, maxBodyBytes: number}} limits
 * @returns {{messages: Array<{role: string, content: string}>, dropped: number, shortened: number}}
 */
export function fitHistory(history, limits) {
  const messages = [];
  let size = bytes({ messages: [] }) + BODY_MARGIN_BYTES;
  let shortened = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const { role, content } = history[i];
    const cut = content.length > limits.maxMessageChars ? cutAt(content, limits.maxMessageChars) : content;
    const message = { role, content: cut };
    const cost = bytes(message) + 1; // and its comma
    if (messages.length >= limits.maxMessages || size + cost > limits.maxBodyBytes) break;
    if (cut !== content) shortened++;
    messages.unshift(message);
    size += cost;
  }
  // The server wants the conversation to end with the user's message; it may begin with either role.
  return { messages, dropped: history.length - messages.length, shortened };
}

/** The first `max` code units, without splitting a surrogate pair (which would not be valid text). */
function cutAt(text, max) {
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
