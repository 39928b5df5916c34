/**
 * YAML documents whose top level is a mapping: the gateway's config, the simulator's, a fleet's
 * inventory and the device configs made from it. Each problem is one line saying where (source,
 * line and column), what is wrong and the offending line, as docs/reference/config.md shows.
 */
import { readFileSync } from 'node:fs';
import { type Document, parseDocument } from 'yaml';

export interface YamlMapping {
  /** The parsed document, comments kept, for edits that write it back. */
  doc: Document.Parsed;
  mapping: Record<string, unknown>;
}

/** One line per problem, when the text is no YAML mapping. */
export interface YamlProblems {
  problems: string[];
}

/** `text` as a mapping (an empty document is an empty one); `source` names it in the problems. */
export function parseYamlMapping(text: string, source: string): YamlMapping | YamlProblems {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const lines = text.split(/\r?\n/);
    return {
      problems: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const where = at ? `${source}:${at.line}:${at.col}` : source;
        const offending = at ? (lines[at.line - 1] ?? '') : '';
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return `${where}: not valid YAML: ${message}${at ? `; line ${at.line}: ${JSON.stringify(offending.length > 120 ? `${offending.slice(0, 117)}…` : offending)}` : ''}`;
      }),
    };
  }
  let mapping: unknown;
  try {
    mapping = doc.toJS() ?? {};
  } catch (err) {
    // yaml refuses here what parses but would not fit in memory: aliases nested to expand
    // exponentially ("billion laughs").
    return { problems: [`${source}: not valid YAML: ${(err as Error).message}`] };
  }
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping))
    return { problems: [`${source}: the top level must be a mapping`] };
  return { doc, mapping: mapping as Record<string, unknown> };
}

/** A YAML file as a mapping; a file that cannot be read is a problem too. */
export function readYamlMapping(file: string): YamlMapping | YamlProblems {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`] };
  }
  return parseYamlMapping(text, file);
}
