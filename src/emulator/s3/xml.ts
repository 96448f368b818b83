// The XML documents the S3 API speaks, read and written by fast-xml-parser: a request body may carry numeric
// character references (Go's encoder writes `&#34;` around ETags), CDATA sections and namespace prefixes, which a
// hand-written reader got wrong. Answers are built from plain objects.
import { XMLBuilder, XMLParser } from "fast-xml-parser";

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";

export type XmlValue = string | number | boolean | undefined | XmlNode | XmlNode[];
export interface XmlNode { [element: string]: XmlValue | XmlValue[] }

// XML 1.0 cannot carry most control characters at all, and a parser turns a raw `\r` into `\n`; a key may hold
// either. Each is written as a numeric reference, which parsers that read XML 1.1 (and most S3 clients) take
// back; clients that care ask for `encoding-type=url` instead.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\r\t\n]/g;

function escapeText(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!)
    .replace(CONTROL, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  // Escaping is ours (control characters included); the builder writes text as given.
  processEntities: false,
  suppressEmptyNode: false,
  tagValueProcessor: (_name, value) => (typeof value === "string" ? escapeText(value) : value),
});

/** `<?xml ...?><Root xmlns="...">...</Root>` */
export function xmlDocument(root: string, body: XmlNode, namespace = true): string {
  const content = namespace ? { "@_xmlns": NS, ...body } : body;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${String(builder.build({ [root]: content }))}`;
}

export function errorDocument(code: string, message: string, resource: string, requestId: string): string {
  return xmlDocument("Error", { Code: code, Message: message, Resource: resource, RequestId: requestId }, false);
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  processEntities: true,
  // Numeric character references (`&#34;`, `&#x22;`) are decoded with the HTML set in this version.
  htmlEntities: true,
  isArray: (name) => name === "Part" || name === "Object",
});

type Parsed = Record<string, unknown>;

function parse(xml: string): Parsed | undefined {
  try {
    // `validate` refuses what is not well-formed (an unclosed tag, two roots) instead of guessing.
    const result = parser.parse(xml, true) as Parsed;
    return typeof result === "object" && result !== null ? result : undefined;
  } catch {
    return undefined;
  }
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined);

/** The parts a CompleteMultipartUpload body lists, in its order; undefined when it is not that document. */
export function parseCompleteMultipartUpload(xml: string): { partNumber: number; etag: string }[] | undefined {
  const root = parse(xml)?.CompleteMultipartUpload;
  if (root === undefined) return undefined;
  if (root === "") return [];
  if (typeof root !== "object" || root === null) return undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  for (const part of ((root as Parsed).Part as unknown[] | undefined) ?? []) {
    if (typeof part !== "object" || part === null) return undefined;
    const number = text((part as Parsed).PartNumber)?.trim();
    const etag = text((part as Parsed).ETag);
    if (number === undefined || !/^\d+$/.test(number) || etag === undefined) return undefined;
    parts.push({ partNumber: Number(number), etag: etag.trim().replace(/^"|"$/g, "") });
  }
  return parts;
}
