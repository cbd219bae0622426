/** Types for gen-api.mjs, so the freshness test can import it. */
export declare const SCHEMA_FILE: string;
export declare const DOCUMENT_FILE: string;
export declare function loadOpenApi(source?: string): Promise<unknown>;
export declare function renderSchema(openapi: unknown): Promise<string>;
export declare function renderDocument(openapi: unknown): string;
export declare function firstDifference(committed: string, expected: string): string;
