// AWS Signature Version 4, checked the way S3 checks it: the header form
//   Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/s3/aws4_request,
//                  SignedHeaders=<a;b;c>, Signature=<hex>
// over the canonical request (method, the path exactly as sent, the sorted query, the signed headers, the
// payload hash from x-amz-content-sha256). S3 does not normalize or re-encode the path, so neither do we.
// The caller gets the region from the credential scope (RunPod's S3 API takes the data center id there).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  /** The request target as received: path and query string, still percent-encoded. */
  url: string;
  headers: IncomingHttpHeaders;
}

export type SigV4Result =
  | { ok: true; accessKeyId: string; region: string; payloadHash: string }
  | { ok: false; status: 400 | 403; code: string; message: string };

const ALGORITHM = "AWS4-HMAC-SHA256";
/** RunPod's S3 API refuses a request whose clock is an hour or more away from its own (AWS: 15 minutes). */
export const MAX_SKEW_MS = 60 * 60 * 1000;

/** `20261207T021500Z` as milliseconds since the epoch; NaN when it is not that shape. */
function amzTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m === null ? Number.NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
  if (query === "") return "";
  const pairs = query.split("&").filter(Boolean).map((part) => {
    const eq = part.indexOf("=");
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? "" : part.slice(eq + 1);
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, "%20"));
    return [uriEncode(decode(rawKey)), uriEncode(decode(rawValue))] as const;
  });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(",") : value).trim().replace(/\s+/g, " ");
}

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

/**
 * Checks the request's signature against `lookup(accessKeyId)`'s secret. The payload hash is taken as the client
 * declared it; whether the body matches it is checked by whoever reads the body.
 */
export function verifySigV4(request: SignedRequest, lookup: (accessKeyId: string) => string | undefined, clock: { now: number; maxSkewMs: number } = { now: Date.now(), maxSkewMs: MAX_SKEW_MS }): SigV4Result {
  const authorization = headerValue(request.headers, "authorization");
  if (authorization === undefined) {
    return { ok: false, status: 403, code: "AccessDenied", message: "Anonymous access is not allowed: sign the request with an S3 API key" };
  }
  const match = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization);
  if (match === null) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", message: "The authorization header is malformed; expected AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." };
  }
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = match as unknown as [string, string, string, string, string, string, string];
  const secret = lookup(accessKeyId);
  if (secret === undefined) {
    return { ok: false, status: 403, code: "InvalidAccessKeyId", message: "The access key id you provided does not exist in our records." };
  }
  const amzDate = headerValue(request.headers, "x-amz-date");
  const payloadHash = headerValue(request.headers, "x-amz-content-sha256");
  if (amzDate === undefined || !amzDate.startsWith(date)) {
    return { ok: false, status: 403, code: "AccessDenied", message: "x-amz-date is missing or does not match the credential scope's date" };
  }
  if (payloadHash === undefined) {
    return { ok: false, status: 400, code: "InvalidRequest", message: "Missing required header for this request: x-amz-content-sha256" };
  }
  const signedHeaders = signedHeaderList.split(";");
  if (!signedHeaders.includes("host")) {
    return { ok: false, status: 403, code: "AccessDenied", message: "the host header must be signed" };
  }
  const q = request.url.indexOf("?");
  const path = q === -1 ? request.url : request.url.slice(0, q);
  const query = q === -1 ? "" : request.url.slice(q + 1);
  const canonicalRequest = [
    request.method,
    path,
    canonicalQuery(query),
    signedHeaders.map((name) => `${name}:${headerValue(request.headers, name) ?? ""}\n`).join(""),
    signedHeaderList,
    payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, createHash("sha256").update(canonicalRequest, "utf8").digest("hex")].join("\n");
  const expected = createHmac("sha256", signingKey(secret, date, region, service)).update(stringToSign, "utf8").digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    };
  }
  const signedAt = amzTime(amzDate);
  if (!Number.isFinite(signedAt)) {
    return { ok: false, status: 403, code: "AccessDenied", message: `x-amz-date ${JSON.stringify(amzDate)} is not a date of the form YYYYMMDDTHHMMSSZ` };
  }
  if (Math.abs(clock.now - signedAt) >= clock.maxSkewMs) {
    return {
      ok: false,
      status: 403,
      code: "RequestTimeTooSkewed",
      message: `The difference between the request time (${amzDate}) and the server's time (${new Date(clock.now).toISOString()}) is ${Math.round(Math.abs(clock.now - signedAt) / 1000)} s; at most ${clock.maxSkewMs / 1000} s is allowed.`,
    };
  }
  return { ok: true, accessKeyId, region, payloadHash };
}
