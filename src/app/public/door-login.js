// The front door's login: our /api/login (with its limits) logs the person in to the door and to MetaHuman OS.
const form = document.getElementById("login");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  }).catch(() => undefined);
  if (response?.ok) {
    const next = new URLSearchParams(location.search).get("next");
    location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
    return;
  }
  const body = response ? await response.json().catch(() => ({})) : {};
  error.textContent = body.error ?? "The server cannot be reached.";
});
