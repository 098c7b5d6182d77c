// Split a command line the way sh would split words (quotes and backslashes), without running a
// shell: the SSH forced command gets the client's command as one string (SSH_ORIGINAL_COMMAND).
import { UserError } from "../errors";

export function splitWords(line: string): string[] {
    const words: string[] = [];
    let cur = "";
    let inWord = false;
    let quote: "'" | '"' | null = null;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quote === "'") {
            if (c === "'") quote = null;
            else cur += c;
        } else if (quote === '"') {
            if (c === '"') quote = null;
            else if (c === "\\" && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) cur += line[++i];
            else cur += c;
        } else if (c === "'" || c === '"') {
            quote = c;
            inWord = true;
        } else if (c === "\\" && i + 1 < line.length) {
            cur += line[++i];
            inWord = true;
        } else if (/\s/.test(c)) {
            if (inWord) words.push(cur);
            cur = "";
            inWord = false;
        } else {
            cur += c;
            inWord = true;
        }
    }
    if (quote) throw new UserError(`Unterminated ${quote === "'" ? "single" : "double"} quote in the command: close it and try again`);
    if (inWord) words.push(cur);
    return words;
}

/** Quote words so splitWords (and sh) give them back unchanged. */
export function joinWords(words: string[]): string {
    return words.map((w) => (/^[A-Za-z0-9_\-./:=@%+,]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}
