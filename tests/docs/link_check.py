#!/usr/bin/env python3
"""Checks every relative link of the project's Markdown files, as a clone would see them.

    link_check.py [SOURCE_DIR]      (default: the repository this file is in)

Files checked: the Markdown files git knows (tracked, or new and not ignored), or, outside a git
work tree, every *.md under SOURCE_DIR except build*/ and dot directories. For each link
`[text](path)`, `[text](path#anchor)`, `[text](#anchor)`, image, reference definition
`[name]: path` and HTML `href=` / `src=`:
  - path must name a file or directory that exists and that a clone has (not ignored by git);
  - an anchor into a Markdown file must be the GitHub slug of one of its headings (lowercase,
    punctuation other than '-' and '_' removed, spaces to '-', repeats suffixed -1, -2, ...) or an
    explicit <a id="..."> / <a name="...">.
Links with a scheme (http:, https:, mailto:, ...) are skipped: the tests have no network. Code
blocks and code spans are not read. Prints every broken link as FILE:LINE; exits 1 if there is one.
Python 3 standard library only.
"""
import os
import re
import subprocess
import sys
import urllib.parse

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")  # also fences indented in nested lists
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
                         r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.M)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:id|name)\s*=\s*[\"']?([^\"'\s>]+)", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def blank_code(text):
    """The text with fenced code blocks and code spans replaced by spaces (newlines kept), so
    offsets and line numbers stay those of the file."""
    out = []
    fence = None
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append(blank(line))
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and \
                    line.strip() == m.group(1):
                fence = None
            out.append(blank(line))
        else:
            out.append(line)
    text = "".join(out)
    # Code spans: a run of backticks up to the next run of the same length.
    return re.sub(r"(`+)(?:(?!\1)[\s\S])*?(?<!`)\1(?!`)", lambda m: blank(m.group(0)), text)


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def heading_text_to_slug(text):
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation removed except '-' and
    '_', each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "")
    text = re.sub(r"(\*+|_{2,})", "", text)  # emphasis (a single '_' may be part of a word)
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors_of(text):
    """Every anchor a Markdown file offers: heading slugs (with GitHub's -N suffixes) and explicit
    <a id=...>/<a name=...>."""
    anchors = set()
    seen = {}

    def add(heading):
        slug = heading_text_to_slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else "%s-%d" % (slug, n))

    lines = blank_code(text).splitlines()  # to tell code from text; headings are read from raw
    raw = text.splitlines()
    for i, line in enumerate(lines):
        if ATX.match(line):
            add(ATX.match(raw[i]).group(2) or "")
        elif i > 0 and SETEXT.match(line) and lines[i - 1].strip() and \
                not re.match(r"^\s*([-*+>|#]|\d+[.)]\s)", lines[i - 1]) and \
                (i == 1 or not lines[i - 2].strip() or not SETEXT.match(lines[i - 2])):
            add(raw[i - 1])
    for m in HTML_ANCHOR.finditer(blank_code(text)):
        anchors.add(m.group(1))
    return anchors


def links_of(text):
    """(line number, target) of every link in the text, code excluded."""
    code_free = blank_code(text)
    found = []
    for pattern in (INLINE_LINK, REFERENCE_DEF, HTML_LINK):
        for m in pattern.finditer(code_free):
            target = m.group(1)
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            line = code_free.count("\n", 0, m.start(1)) + 1
            found.append((line, target))
    return sorted(found)


def markdown_files(root):
    """(files to check, files a clone has or None outside git), paths relative to root."""
    try:
        listing = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                                  "--exclude-standard"], capture_output=True, check=True).stdout
        known = {p for p in listing.decode("utf-8", "surrogateescape").split("\0") if p}
        known = {p for p in known if os.path.lexists(os.path.join(root, p))}  # not deleted
        return sorted(p for p in known if p.endswith(".md")), known
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            rel = os.path.relpath(d, root)
            dirs[:] = [x for x in dirs if not x.startswith(".") and
                       not (rel == "." and x.startswith("build"))]
            files += [os.path.normpath(os.path.join(rel, n)) for n in names if n.endswith(".md")]
        return sorted(files), None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    files, known = markdown_files(root)
    known_dirs = None
    if known is not None:
        known_dirs = {""}
        for p in known:
            d = os.path.dirname(p)
            while d not in known_dirs:
                known_dirs.add(d)
                d = os.path.dirname(d)
    anchor_cache = {}

    def anchors(rel):
        if rel not in anchor_cache:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                anchor_cache[rel] = anchors_of(f.read())
        return anchor_cache[rel]

    broken = []
    checked = 0
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for line, target in links_of(text):
            checked += 1
            where = "%s:%d" % (rel, line)
            if not target:
                broken.append("%s: empty link target" % where)
                continue
            if SCHEME.match(target) or target.startswith("//"):
                continue  # http(s), mailto, ...: no network in the tests
            path, _, anchor = target.partition("#")
            path = urllib.parse.unquote(path.split("?", 1)[0])
            anchor = urllib.parse.unquote(anchor)
            if path:
                base = "" if path.startswith("/") else os.path.dirname(rel)
                dest = os.path.normpath(os.path.join(base, path.lstrip("/")))
                if dest == ".":
                    dest = ""
                if dest.startswith(".." + os.sep) or dest == "..":
                    broken.append("%s: %s points outside the repository" % (where, target))
                    continue
                full = os.path.join(root, dest)
                if not os.path.exists(full):
                    broken.append("%s: %s: no such file" % (where, target))
                    continue
                if known is not None and dest not in known and dest not in known_dirs:
                    broken.append("%s: %s: ignored by git, so not in a clone" % (where, target))
                    continue
            else:
                dest = rel
            if anchor and dest.endswith(".md") and os.path.isfile(os.path.join(root, dest)):
                if anchor not in anchors(dest):
                    broken.append("%s: %s: no heading or <a id> '%s' in %s" % (where, target, anchor, dest))
    for b in broken:
        print(b)
    print("link_check: %d Markdown files, %d links, %d broken" % (len(files), checked, len(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
