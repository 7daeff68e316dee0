// wxtoken serve from Node 18+ (built-in fetch).
//   const c = tokenClient("http://127.0.0.1:8700", key, "shop");
//   let token = await c.token();
//   // a business call answered 40001 / 40014 / 42001 for `token`:
//   token = await c.invalidate(token);
export function tokenClient(base, key, app) {
  const url = `${base}/v1/apps/${encodeURIComponent(app)}`;
  const call = async (what, init = {}) => {
    const resp = await fetch(`${url}/${what}`, {
      ...init,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      signal: AbortSignal.timeout(15000),
    });
    const body = await resp.json();
    if (!resp.ok) throw new Error(`wxtoken serve: ${resp.status} ${body.error?.code}: ${body.error?.message}`);
    return body.access_token;
  };
  return {
    token: () => call("token"),
    invalidate: (bad) => call("invalidate", { method: "POST", body: JSON.stringify({ bad_token: bad }) }),
  };
}
