// `dynoform logs` at a terminal: Heroku's colouring of the stream. Each process type keeps one
// colour for the run (router, api and every dyno type their own), the timestamp is dimmed, and a
// router line shows its status by class (2xx green, 3xx cyan, 4xx yellow, 5xx and at=error red).
// Only when stdout is a TTY and NO_COLOR is unset; the lines themselves are never changed otherwise.
const ESC = "\x1b[";
const paint = (code) => (s) => `${ESC}${code}m${s}${ESC}0m`;
const PALETTE = ["33", "32", "36", "35", "34", "1;32", "1;36", "1;35", "1;33", "1;34"].map(paint);
const FIXED = { router: paint("34"), api: paint("32"), logplex: paint("31") };
const dim = paint("2");
const red = paint("31");
const STATUS = { 2: paint("32"), 3: paint("36"), 4: paint("33"), 5: red };

// 2026-11-30T01:02:03.456000+00:00 app[web.1]: message
const LINE = /^(\S+) ((app|heroku)\[([\w-]+)(\.\d+)?\]:)(.*)$/s;

export function colorizer() {
    const assigned = new Map();
    const colorFor = (type) => {
        if (FIXED[type]) return FIXED[type];
        if (!assigned.has(type)) assigned.set(type, PALETTE[assigned.size % PALETTE.length]);
        return assigned.get(type);
    };
    return (line) => {
        const m = LINE.exec(line);
        if (!m) return line;
        const [, time, ident, , type, , body] = m;
        let text = body;
        if (type === "router") {
            text = text.replace(/\bstatus=(\d)(\d\d)\b/, (s, c) => (STATUS[c] ?? ((x) => x))(s));
            if (/^ at=error /.test(text)) text = text.replace(/^ at=error code=(\S+)/, (s) => " " + red(s.trim()));
        } else if (/ Error L10 /.test(text) || /\bError R\d\d\b/.test(text)) text = red(text);
        return `${dim(time)} ${colorFor(type)(ident)}${text}`;
    };
}

/** Whether `logs` output is coloured: a terminal, unless NO_COLOR; FORCE_COLOR forces it. */
export function wantsColor(stream = process.stdout, env = process.env) {
    if (env.NO_COLOR) return false;
    if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
    return Boolean(stream.isTTY);
}
