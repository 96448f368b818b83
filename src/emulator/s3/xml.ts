// The few XML documents the S3 subset speaks: answers built from plain objects, and the one request body we
// read (CompleteMultipartUpload), which is flat enough to read with a pattern.
const NS = "http://s3.amazonaws.com/doc/2006-03-01/";

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot);/g, (_m, name: string) => ({ lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' })[name]!);
}

export type XmlValue = string | number | boolean | undefined | XmlNode | XmlNode[];
export interface XmlNode { [element: string]: XmlValue | XmlValue[] }

function render(name: string, value: XmlValue | XmlValue[]): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((item) => render(name, item)).join("");
  if (typeof value === "object") return `<${name}>${Object.entries(value).map(([k, v]) => render(k, v)).join("")}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<?xml ...?><Root xmlns="...">...</Root>` */
export function xmlDocument(root: string, body: XmlNode, namespace = true): string {
  const inner = Object.entries(body).map(([k, v]) => render(k, v)).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${namespace ? ` xmlns="${NS}"` : ""}>${inner}</${root}>`;
}

export function errorDocument(code: string, message: string, resource: string, requestId: string): string {
  return xmlDocument("Error", { Code: code, Message: message, Resource: resource, RequestId: requestId }, false);
}

/** The parts a CompleteMultipartUpload body lists, in its order; undefined when it is not that document. */
export function parseCompleteMultipartUpload(xml: string): { partNumber: number; etag: string }[] | undefined {
  if (!/<CompleteMultipartUpload[\s>]/.test(xml)) return undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  for (const match of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const body = match[1]!;
    const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(body)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(body)?.[1];
    if (number === undefined || etag === undefined) return undefined;
    parts.push({ partNumber: Number(number), etag: unescapeXml(etag).trim().replace(/^"|"$/g, "") });
  }
  return parts;
}

/** The keys of a DeleteObjects (POST ?delete) body. */
export function parseDeleteObjects(xml: string): string[] | undefined {
  if (!/<Delete[\s>]/.test(xml)) return undefined;
  return [...xml.matchAll(/<Object>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g)].map((m) => unescapeXml(m[1]!));
}
