"""COCO caption tokenisation in pure Python.

``ptb_tokenize_py`` reproduces what pycocoevalcap's ``PTBTokenizer`` returns: Stanford
CoreNLP 3.4.1's ``edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`` on each
caption, then the tokens in pycocoevalcap's ``PUNCTUATIONS`` dropped, the rest joined by spaces.

The Stanford tokenizer is a JFlex lexer: at each position every rule is tried, the longest match
wins (trailing context counts towards the length but is not consumed), and ties go to the
earlier rule. The scanner is case-insensitive except inside character classes. This module
keeps that machinery and the subset of rules that can fire on caption text (words, clitics,
numbers, abbreviations, acronyms, hyphenated words, quotes, brackets, dashes, ellipses, URLs,
e-mail addresses, currency and fractions); ``tests/data/ptb_java_outputs.json`` holds the Java
tokenizer's output for a set of tricky captions that this module is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (the upper-case bracket names are never
# dropped, because -lowerCase has already turned them into -lrb- etc.)
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-",
     "--", "...", ";"]
)  # fmt: skip

# --- macros (PTBLexer.flex) -------------------------------------------------------------------
# [:letter:]: Python's [^\W\d_] also takes numeric characters (Nl, No) such as ½ and ²
_NOT_LETTER = (
    "\\d_\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218f\u2460-\u24ff\u2776-\u2793"
)
_L = rf"[^\W{_NOT_LETTER}]"
_D = r"\d"  # [:digit:]
_AN = rf"(?:{_L}|\d)"  # letter or digit
_LETTER = rf"(?:{_L}|&[aeiouAEIOU](?:acute|grave|uml);|[\u00AD\u0237-\u024F\u02C2-\u02C5\u02D2-\u02DF\u02E5-\u02FF\u0300-\u036F])"  # noqa: E501
_SPACE = r"[ \t\u00A0\u2000-\u200A\u3000]"
_NEWLINE = r"(?:\r\n?|\n|\u2028|\u2029|\u000B|\u000C|\u0085)"
_SPACENL = rf"(?:{_SPACE}|{_NEWLINE})"
_SENTEND = rf"{_SPACENL}(?:{_SPACENL}|(?-i:[A-Z])|<)"
_NUM = rf"(?:{_D}*(?:[.:,\u00AD\u066B\u066C]{_D}+)+|{_D}+)"
_NUMBER = rf"[-+]?{_NUM}"
_DATE = rf"{_D}{{1,2}}[-/]{_D}{{1,2}}[-/]{_D}{{2,4}}"
_FRAC = rf"(?:{_D}{{1,4}}[- \u00A0])?{_D}{{1,4}}(?:\\?/|\u2044){_D}{{1,4}}"
_APOS = r"(?:['\u0092\u2019]|&apos;)"
_APOSETC = rf"(?:{_APOS}|[`\u0091\u2018\u201B])"
_WORD = rf"{_LETTER}(?:{_LETTER}|\d)*(?:[.!?]{_LETTER}(?:{_LETTER}|\d)*)*"
_SWORD = r"(?-i:[A-Za-z\u00AD]*[A-MO-Za-mo-z])\u00AD*"
_REDAUX = rf"{_APOS}(?:(?-i:[msdMSD])|re|ve|ll)"
_SREDAUX = rf"n{_APOSETC}t"
_HYPHEN = r"[-_\u058A\u2010\u2011]"
_THING = (
    rf"(?:[dDoOlL]{_APOSETC}{_AN})?{_AN}+"
    rf"(?:{_HYPHEN}(?:[dDoOlL]{_APOSETC}{_AN})?{_AN}+)*"
)
_THINGA = r"(?-i:[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+)"
_THING3 = r"[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"
_ACRO = r"(?:(?:canada|sino|korean|eu|japan|non)-u\.s|u\.s\.-(?:u\.k|u\.s\.s\.r)|[A-Za-z](?:\.[A-Za-z])+)"  # noqa: E501
_HTHING = rf"[A-Za-z0-9][A-Za-z0-9.,\u00AD]*(?:-(?:{_ACRO}\.|[A-Za-z0-9\u00AD]+))+"
_APOWORD = (
    rf"(?:{_APOS}n{_APOS}?|[lLdDjJ]{_APOS}|dunkin{_APOS}|somethin{_APOS}|ol{_APOS}|{_APOS}em"
    rf"|(?-i:[A-HJ-XZn]){_APOSETC}{_L}{{2}}{_L}*|{_APOS}[2-9]0s|{_APOS}till?"
    rf"|{_L}+(?-i:[aeiouyAEIOUY]){_APOSETC}(?-i:[aeiouA-Z]){_L}*|{_APOS}cause|cont'd\.?"
    r"|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)"
)
_FULLURL = r"https?://[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-]"
_LIKELYURL = (
    r"(?:(?:www\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})"
    r"|(?:(?:(?-i:[^ \t\n\f\r\"`'<>|.!?(){},-_$])+\.)+(?:com|net|org|edu)))"  # ,-_ is a range
    r"(?:/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?"
)
_EMAIL = (
    r"(?:&lt;|<)?[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00A0{}]*@"
    r"(?:[^ \t\n\f\r\"<>|(){}.\u00A0]+\.)*[^ \t\n\f\r\"<>|(){}.\u00A0]+(?:&gt;|>)?"
)
_TWITTER = rf"@[a-zA-Z_][a-zA-Z_0-9]*|#{_LETTER}+"
_ABMONTH = r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_ABDAYS = r"mon|tue|tues|wed|thu|thurs|fri"
_ABSTATE = (
    r"ala|ariz|(?-i:A)z|(?-i:A)rk|calif|colo|conn|ct|dak|(?-i:D)el|fla|ga|(?-i:I)ll|ind|kans?|ky"
    r"|(?-i:L)a|(?-i:M)ass|md|mich|minn|(?-i:M)iss|mo|mont|neb|nev|okla|(?-i:O)re|(?-i:P)a|penn"
    r"|tenn|(?-i:T)ex|va|vt|(?-i:W)ash"
    r"|wisc?|wyo"
)
_ABTITLE = (
    r"mr|mrs|ms|(?-i:M)iss|drs?|profs?|sens?|reps?|attys?|lt|col|gen|messrs|govs?|adm|rev|maj"
    r"|sgt|cpl|pvt|capt|ste?|ave|pres|lieut|rt|hon|brig|co?mdr|pfc|spc|supts?|det|mt|ft|adj|adv"
    r"|asst|assoc|ens|insp|mlle|mme|msgr|sfc|sr"
)
_ABPTIT = r"jr|sr|bros|(?:ed|ph)\.d|blvd|rd|esq"
_ABCOMP = r"inc|cos?|corp|pp?t[ye]s?|ltd|plc|rt|bancorp|dept|bhd|assn|univ|intl|sys"
_ABCOMP2 = r"invt|elec|natl|m[ft]g"
_ABNUM = r"tel|est|ext|sq"
_ABBREV1 = rf"(?:{_ABMONTH}|{_ABDAYS}|{_ABSTATE}|{_ABCOMP}|{_ABNUM}|{_ABPTIT}|etc|al|seq|bldg)\."
_ABBREV4 = rf"(?:{_ACRO}|{_ABTITLE}|vs|alex|wm|jos|cie|a\.k\.a|cf|treas|ph|{_ABCOMP2}|[A-Za-z])"
_ACRO_FOLLOWERS = (
    "About|According|Additionally|After|An|A|As|At|But|Earlier|He|Her|Here|However|If|In|It|"
    "Last|Many|More|Mr\\.|Ms\\.|Now|Once|One|Other|Our|She|Since|So|Some|Such|That|The|Then|"
    "There|These|They|This|We|When|While|What|Yet|You"
)
_PHONE = (
    r"(?:\([0-9]{2,3}\)[ \u00A0]?|(?:\+\+?)?(?:[0-9]{2,4}[- \u00A0])?[0-9]{2,4}[- \u00A0])"
    r"[0-9]{3,4}[- \u00A0]?[0-9]{3,5}"
    r"|(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}"
)
_FILENAME = (
    r"(?:[^\W_]+(?:[-._/][^\W_]+)*)\.(?:bat|bmp|bz2|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm"
    r"|html|jar|java|jpeg|jpg|mov|mp3|pdf|php|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip|3gp"
    r"|wm[va]|avi|flv|mov|mp[34g])"
)
_SGML = (
    r"<(?:[!?][A-Za-z-][^>\r\n]*|/?[A-Za-z][A-Za-z0-9_:.-]*(?:[ ]+[A-Za-z][A-Za-z0-9_:.-]*"
    r"(?:[ ]*=[ ]*(?:'[^'\r\n]*'|\"[^\"\r\n]*\"|[A-Za-z][A-Za-z0-9_:.-]*))?)*[ ]*/?)[ ]*>"
)
_ASIANSMILEY = (
    r"(?-i:[\^x=~<>]\.\[\^x=~<>]|[-\^x=~<>']_[-\^x=~<>']|\([-\^x=~<>'][_.]?[-\^x=~<>']\)"
    r"|\([\^x=~<>']-[\^x=~<>'`]\))"
)
_DBLQUOT = r"(?:\"|&quot;)"
_QUOTES = (
    rf"(?:''|[`\u2018\u2019\u201A\u201B\u201C\u201D\u0091\u0092\u0093\u0094\u201E"
    rf"\u201F\u2039\u203A\u00AB\u00BB]{{1,2}}|{_APOS})"
)
_TBSPEC = (
    rf"(?:-(?:rrb|lrb|rcb|lcb|rsb|lsb)-|c\.d\.s|pro-|anti-|s(?:&|&amp;)p-500|s(?:&|&amp;)ls"
    rf"|cap{_APOS}n|c{_APOS}est)"
)
_MISCSYMBOL = (
    "[\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00ba\u00d7\u00f7\u0387\u2020-\u2023"
    "\u2032-\u2038\u2044\u207a-\u207f\u208a-\u208e\u2100-\u214f\u2190-\u21ff\u2200-\u22ff"
    "\u2300-\u23ff\u2600-\u26ff\u3012\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"
)


# --- token normalisations ---------------------------------------------------------------------
def _latex_quotes(tok: str, left: bool) -> str:
    if left:
        tok = re.sub(r"&apos;|'", "`", tok)
        tok = re.sub(r"\"|&quot;", "``", tok)
    else:
        tok = re.sub(r"&apos;|'", "'", tok)
        tok = re.sub(r"\"|&quot;", "''", tok)
    tok = re.sub("[\u0091\u2018\u201b\u2039]", "`", tok)
    tok = re.sub("[\u0092\u2019\u203a]", "'", tok)
    tok = re.sub("[\u0093\u201c\u00ab]", "``", tok)
    return re.sub("[\u0094\u201d\u00bb]", "''", tok)


_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}
_CURRENCY = (("\u00a2", "cents"), ("\u00a3", "#"), ("[\u0080\u00a4\u20a0\u20ac]", "$"))
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}


def _paren_names(tok: str) -> str:
    return tok.replace("(", "-LRB-").replace(")", "-RRB-")


def _currency(tok: str) -> str:
    for pat, rep in _CURRENCY:
        tok = re.sub(pat, rep, tok)
    return tok


def _soft(tok: str) -> str:
    return tok.replace("\u00ad", "")


# An action maps the matched token text to (emitted token or None, characters consumed).
Action = Callable[[str], "tuple[str | None, int]"]


def _keep(t: str) -> tuple[str | None, int]:
    return t, len(t)


def _drop(t: str) -> tuple[str | None, int]:
    return None, len(t)


def _as(fn: Callable[[str], str]) -> Action:
    return lambda t: (fn(t), len(t))


def _pushback(n: int) -> Action:
    return lambda t: (t[:-n], len(t) - n)


def _acronym(t: str) -> tuple[str | None, int]:
    # "I." before a sentence start: the letter, then the period; longer ones keep their period
    # and the period is returned again as its own token
    return (t[:-1], 1) if len(t) == 2 else (t, len(t) - 1)


def _hyphens(t: str) -> tuple[str | None, int]:
    return ("--" if 3 <= len(t) <= 4 else t), len(t)


# (pattern, trailing context or None, action), in the lexer's rule order.
_RULE_SPECS: list[tuple[str, str | None, Action]] = [
    (r"c\+\+|[cf]#", None, _keep),
    (r"cannot|'twas", None, _pushback(3)),
    (r"'tis|gonna|gotta|lemme|gimme|wanna", None, _pushback(2)),
    (_SGML, None, _as(lambda t: t.replace(" ", "\u00a0"))),
    ("&(?:md|mdash|ndash);|[\u0096\u0097\u2013\u2014\u2015]", None, _as(lambda t: "--")),
    (r"&amp;", None, _as(lambda t: "&")),
    (r"&(?:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);", None, _keep),
    (_WORD, _REDAUX, _as(_soft)),
    (_SWORD, _SREDAUX, _as(_soft)),
    (_WORD, None, _as(_soft)),
    (_APOWORD, None, _keep),
    (r"y" + _APOS, _L, _keep),
    (_FULLURL, None, _keep),
    (_LIKELYURL, None, _keep),
    (_EMAIL, None, _keep),
    (_TWITTER, None, _keep),
    (_REDAUX, r"[^A-Za-z]", _as(lambda t: _latex_quotes(t, False))),
    (_SREDAUX, None, _as(lambda t: _latex_quotes(t, False))),
    (_DATE, None, _keep),
    (_NUMBER, None, _as(_soft)),
    (
        "[\u207a\u207b\u208a\u208b]?(?:[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+|[\u2080-\u2089]+)",
        None,
        _keep,
    ),
    (_FRAC, None, _as(lambda t: t.replace(" ", "\u00a0"))),
    ("[\u00bc\u00bd\u00be\u2153-\u215e]", None, _as(lambda t: _FRACTIONS.get(t, t))),
    (_TBSPEC, None, _as(lambda t: re.sub("(?i:&amp;)", "&", t))),
    (_THING3, None, _keep),
    (r"(?-i:[A-Z]*)\$|#", None, _keep),
    (
        "[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]",
        None,
        _as(_currency),
    ),
    (
        rf"(?:{_ACRO}|[A-Za-z])\.",
        rf"{_SPACENL}+(?-i:{_ACRO_FOLLOWERS})(?:{_SPACENL}|[?!])",
        _acronym,
    ),
    (r"(?:ca|figs?|prop|nos?|art|bldg|pp|op)\.", rf"{_SPACENL}?\d", _keep),
    (_ABBREV1, _SENTEND, _keep),
    (_ABBREV1, r".{2}", _keep),
    (_ABBREV1, None, _keep),
    (rf"{_ABBREV4}\.", None, _keep),
    (_ABBREV4, _SPACE, _keep),
    (_ACRO, _SPACENL, _keep),
    (rf"{_APOS}[0-9][0-9]", _SPACENL, _keep),
    (_FILENAME, rf"{_SPACENL}|[.?!,\"'<]", _keep),
    (rf"{_WORD}\.", r"[,;:]", _as(_soft)),
    (_PHONE, None, _as(lambda t: _paren_names(t.replace(" ", "\u00a0")))),
    (_DBLQUOT, r"[A-Za-z0-9$]", _as(lambda t: _latex_quotes(t, True))),
    (_DBLQUOT, None, _as(lambda t: _latex_quotes(t, False))),
    (r"\+|[%&\u2030\u2031]|~|\^", None, _keep),
    (r"[|\\]", None, _keep),
    (r"<<|>>", None, _keep),
    (r"<|&lt;", None, _as(lambda t: "<")),
    (r">|&gt;", None, _as(lambda t: ">")),
    (r"(?-i:[<>]?[:;=][-o*']?[()DPdpO\\{@|\[\]])", r"[^A-Za-z0-9]", _as(_paren_names)),
    (_ASIANSMILEY, None, _as(_paren_names)),
    (r"\x7f", None, _drop),
    (r"[()\[\]{}]", None, _as(lambda t: _BRACKETS[t])),
    (r"-+", None, _hyphens),
    (r"\.{3,5}|(?:\.[ \u00A0]){2,4}\.|[\u0085\u2026]", None, _as(lambda t: "...")),
    (r"@+|#+|_+", None, _keep),
    (r"\*+|(?:\\\*){1,3}", None, _keep),
    (r"[,;:]", None, _keep),
    (r"[?!]+", None, _keep),
    ("[.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa]", None, _keep),
    (r"=", None, _keep),
    (r"/", None, _keep),
    (rf"{_HTHING}\.", r"[,;:]", _as(_soft)),
    (_HTHING, None, _as(_soft)),
    (rf"{_THING}\.", r"[,;:]", _keep),
    (_THING, None, _keep),
    (rf"{_THINGA}\.", r"[,;:]", _as(lambda t: re.sub("(?i:&amp;)", "&", t))),
    (_THINGA, None, _as(lambda t: re.sub("(?i:&amp;)", "&", t))),
    (r"'", r"[A-Za-z][^ \t\n\r\u00A0]", _as(lambda t: _latex_quotes(t, True))),
    (_REDAUX, None, _as(lambda t: _latex_quotes(t, False))),
    (_QUOTES, None, _as(lambda t: _latex_quotes(t, False))),
    (_MISCSYMBOL, None, _keep),
    (_NEWLINE, None, _as(lambda t: _EOL if "\n" in t else None)),
    (rf"\x00|{_SPACE}+|[\u200B\u200E\u200F\uFEFF]|&nbsp;", None, _drop),
    (r".", None, _drop),  # untokenizable: deleted
]

_RULES = [
    (re.compile(f"({pat})" + (f"(?:{ctx})" if ctx else ""), re.IGNORECASE | re.DOTALL), act)
    for pat, ctx, act in _RULE_SPECS
]


_EOL = "\n"  # end of a caption's line


# Fast path: a lower-case ASCII word followed by a space is its own token under every rule
# (no rule matches further across the space), except the words that are split.
_PLAIN_WORD = re.compile(r"[a-z]+(?= )")
_SPLIT_WORDS = frozenset(["cannot", "gonna", "gotta", "lemme", "gimme", "wanna"])


def _lex(text: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        m = _PLAIN_WORD.match(text, i)
        if m is not None and m.group() not in _SPLIT_WORDS:
            out.append(m.group())
            i = m.end()
            continue
        best_len, best = 0, None
        for rx, act in _RULES:
            m = rx.match(text, i)
            if m is not None and m.end() - i > best_len:
                best_len, best = m.end() - i, (m.group(1), act)
        assert best is not None  # the last rule matches any character
        tok, consumed = best[1](best[0])
        if tok is not None:
            out.append(tok)
        i += max(consumed, 1)
    return out


def ptb_token_lines(texts: Sequence[str]) -> list[list[str]]:
    """Stanford PTBTokenizer tokens of each text (case kept, punctuation kept).

    As in pycocoevalcap, the texts are read as the lines of one file (newlines inside a text
    read as spaces), so a caption's last token can depend on how the next caption starts
    (e.g. ``"plan B."`` before ``"The ..."`` gives ``B`` and ``.``).
    """
    lines: list[list[str]] = [[]]
    for tok in _lex("\n".join(t.replace("\n", " ") for t in texts)):
        if tok is _EOL:
            lines.append([])
        else:
            lines[-1].append(tok)
    return lines[: len(texts)]


def ptb_tokenize_py(texts: Sequence[str]) -> list[str]:
    """pycocoevalcap ``PTBTokenizer`` output for each text, without Java.

    Lower-cased PTB tokens of each text, minus pycocoevalcap's punctuation tokens, joined by
    single spaces.
    """
    return [
        " ".join(low for low in (tok.lower() for tok in toks) if low not in PUNCTUATIONS)
        for toks in ptb_token_lines(texts)
    ]
