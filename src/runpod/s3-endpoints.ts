// RunPod's S3-compatible API for network volumes: which data centers offer it and where (one endpoint per data
// center; the bucket is the volume id, the region the data center id). The list is RunPod's documentation's
// (docs.runpod.io/storage/s3-api, as of 2026-11-30): a volume anywhere else cannot be reached over S3.
export const S3_DATA_CENTERS = [
  "EU-CZ-1", "EU-RO-1", "EUR-IS-1", "EUR-NO-1", "US-CA-2", "US-GA-2", "US-IL-1", "US-KS-2", "US-MD-1", "US-MO-1",
  "US-MO-2", "US-NC-1", "US-NC-2",
] as const;

export function hasS3Api(dataCenter: string): boolean {
  return (S3_DATA_CENTERS as readonly string[]).includes(dataCenter.toUpperCase());
}

/** `https://s3api-<dc>.runpod.io/`; whether the data center has one at all is `hasS3Api`'s to say. */
export function s3EndpointFor(dataCenter: string): string {
  return `https://s3api-${dataCenter.toLowerCase()}.runpod.io/`;
}
