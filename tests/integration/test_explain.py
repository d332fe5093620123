"""Black-box tests of `postern explain` and `postern compare`: text in
English and Japanese, JSON, exit codes, wrapping to the terminal width,
bold only on a tty, and coverage of the IANA registry and of every reply
the server sends."""
import json
import os
import pathlib
import pty
import re
import subprocess
import unicodedata

from conftest import POSTERN, ROOT, assert_no_sanitizer, run

ENV_EN = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8",
          "COLUMNS": "", "NO_COLOR": ""}
ENV_JA = dict(ENV_EN, LANG="ja_JP.UTF-8")


def pt(*args, env=None):
    return run(list(args), env=dict(ENV_EN, **(env or {})))


def width(line):
    w = 0
    for ch in line:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def flat(text):
    """The text with line breaks and indentation folded (wrapping aside)."""
    return re.sub(r"\s+", " ", text)


def flat_ja(text):
    """Japanese text with all white space removed (lines may break at a
    space or between any two characters)."""
    return re.sub(r"\s+", "", text)


def has_ja(out, sentence):
    return flat_ja(sentence) in flat_ja(out)


def explain_json(*args, env=None):
    p = pt("explain", "--json", *args, env=env)
    return p, json.loads(p.stdout)


# --- explain: text -------------------------------------------------------

def test_explain_basic_code_english():
    p = pt("explain", "334")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("334  Server challenge\n")
    assert "Class: 3xx Positive Intermediate — continue the exchange\n" \
        in out
    assert "Sent in reply to: AUTH\n" in out
    assert "Defined in: RFC 4954\n" in out
    for heading in ("\nDescription\n", "\nWhen you see it\n",
                    "\nHow to resolve\n"):
        assert heading in out
    assert "\x1b[" not in out          # not a tty: no bold
    assert p.stderr == ""


def test_explain_japanese_headings():
    p = pt("explain", "--lang", "ja", "556")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("556  ドメインはメールを受け付けません\n")
    assert "クラス：5xx 永続的否定完了応答（あきらめ、同じ内容では再試行しません）" \
        in out
    assert "応答するコマンド：接続時、MAIL、RCPT\n" in out
    for heading in ("\n説明\n", "\nこのコードが表示される場合\n",
                    "\n解決方法\n"):
        assert heading in out
    assert has_ja(out, "再試行しないでください。")


def test_language_from_environment():
    assert pt("explain", "556", env={"LANG": "ja_JP.UTF-8"}).stdout \
        .startswith("556  ドメインはメールを受け付けません")
    assert pt("explain", "556", env={"LANG": "en_US.UTF-8",
                                     "LC_MESSAGES": "ja_JP.UTF-8"}) \
        .stdout.startswith("556  ドメインは")
    # LC_ALL wins over both
    assert pt("explain", "556", env={"LANG": "ja_JP.UTF-8",
                                     "LC_ALL": "C"}) \
        .stdout.startswith("556  Domain does not accept mail")
    # --lang wins over the environment
    assert pt("explain", "--lang", "en", "556", env={"LANG": "ja_JP"}) \
        .stdout.startswith("556  Domain does not accept mail")


def test_explain_reply_line_combines():
    p = pt("explain", "556 5.1.10 Recipient address has null MX")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("556 5.1.10 Recipient address has null MX\n")
    assert "\n556  Domain does not accept mail\n" in out
    assert "\n5.1.10  Recipient address has null MX\n" in out
    assert "Subject: X.1.YYY Addressing Status" in out
    assert "Used with basic codes: 556" in out
    assert ("The basic code 556 decides what the client does (Permanent "
            "Negative Completion: give up and do not retry unchanged); the "
            "enhanced code 5.1.10 gives the reason: Recipient address has "
            "null MX.") in flat(out)


def test_explain_enhanced_forms():
    for arg in ("5.1.10", "X.1.10", "x.1.10"):
        p, doc = explain_json(arg)
        assert p.returncode == 0
        e = doc["results"][0]["enhanced"]
        assert e["registry_code"] == "X.1.10"
        assert e["title"] == "Recipient address has null MX"
        assert e["used_with"] == ["556"]
        assert e["rfc"] == ["RFC 7505"]
    _, doc = explain_json("5.1.10")
    e = doc["results"][0]["enhanced"]
    assert (e["code"], e["class"], e["action"]) == ("5.1.10", 5,
                                                    "do_not_retry")
    _, doc = explain_json("X.1.10")
    e = doc["results"][0]["enhanced"]
    assert (e["code"], e["class"], e["action"]) == ("X.1.10", None,
                                                    "unknown")


def test_explain_multiline_reply():
    reply = "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 1000"
    p, doc = explain_json(reply)
    assert p.returncode == 0
    r = doc["results"][0]
    assert r["type"] == "reply"
    assert r["reply"] == {"code": 250, "enhanced": None,
                          "text": "mx.example.test\nPIPELINING\nSIZE 1000",
                          "lines": 3}
    assert r["basic"]["title"] == "Requested mail action okay, completed"
    assert r["enhanced"] is None
    assert r["malformed"] is False
    bad = "550-5.1.1 a\n550-5.1.1 b"
    p, doc = explain_json(bad)
    assert p.returncode == 65
    assert doc["results"][0]["problems"] == ["continuation"]


def test_explain_malformed_class_mismatch():
    p = pt("explain", "250 5.1.1 odd")
    assert p.returncode == 65
    assert "Malformed reply" in p.stdout
    assert ("Malformed: 250 is a 2xx reply but 5.1.1 has class 5"
            in flat(p.stdout))
    p, doc = explain_json("250 5.1.1 odd")
    r = doc["results"][0]
    assert r["malformed"] is True
    assert r["problems"] == ["class_mismatch"]
    p = pt("explain", "--lang", "ja", "250 5.1.1 odd")
    assert p.returncode == 65
    assert "不正な応答" in p.stdout


def test_explain_unknown_codes():
    p = pt("explain", "299")
    assert p.returncode == 65
    assert p.stdout == ""
    assert p.stderr == ("postern explain: 299: not a known reply code "
                        "(class 2 means Positive Completion)\n")
    p = pt("explain", "5.9.99")
    assert p.returncode == 65
    assert "5.9.99: not a known reply code" in p.stderr
    p = pt("explain", "hello")
    assert p.returncode == 65
    assert p.stderr == ("postern explain: 'hello' is neither a reply code "
                        "nor a reply line\n")
    p = pt("explain", "--lang", "ja", "299")
    assert p.stderr == ("postern explain: 299：既知の応答コードではありません"
                        "（クラス 2 は「肯定完了応答」を表します）\n")
    # known ones are still explained; the exit status reports the bad one
    p, doc = explain_json("556", "299")
    assert p.returncode == 65
    assert [r["found"] for r in doc["results"]] == [True, False]
    assert doc["results"][1]["error"].startswith("299: not a known")


def test_explain_usage():
    p = pt("explain")
    assert p.returncode == 64
    assert p.stderr.startswith("usage: postern explain")
    p = pt("explain", "--help")
    assert p.returncode == 0
    assert p.stdout.startswith("usage: postern explain")
    assert pt("explain", "--lang", "fr", "556").returncode == 64
    assert pt("explain", "--bogus", "556").returncode == 64


def test_explain_json_fields():
    # options after the operand work too
    p = pt("explain", "556", "--json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["lang"] == "en"
    r = doc["results"][0]
    assert r["input"] == "556"
    assert (r["type"], r["found"], r["malformed"], r["error"]) == \
        ("code", True, False, None)
    b = r["basic"]
    assert b["code"] == "556"
    assert b["kind"] == "basic"
    assert b["class"] == 5
    assert b["class_title"] == "Permanent Negative Completion"
    assert b["action"] == "do_not_retry"
    assert b["action_text"] == "give up and do not retry unchanged"
    assert b["category"]["code"] == "x5z"
    assert b["title"] == "Domain does not accept mail"
    assert b["rfc"] == ["RFC 7504", "RFC 7505"]
    assert b["after"] == ["connect", "MAIL", "RCPT"]
    for k in ("description", "when", "resolve", "class_meaning"):
        assert isinstance(b[k], str) and len(b[k]) > 20
    assert r["enhanced"] is None
    _, doc = explain_json("--lang", "ja", "334")
    assert doc["lang"] == "ja"
    b = doc["results"][0]["basic"]
    assert b["title"] == "サーバーからの認証チャレンジ"
    assert b["action"] == "continue"
    assert b["class_title"] == "肯定中間応答"


def test_wrapping_respects_columns_and_wide_characters():
    for env, limit in (({}, 80), ({"COLUMNS": "40"}, 40),
                       ({"COLUMNS": "120"}, 120)):
        for lang in ("en", "ja"):
            p = pt("explain", "--lang", lang, "556 5.1.10 Recipient "
                   "address has null MX", "5.7.26", env=env)
            assert p.returncode == 0
            lines = p.stdout.splitlines()
            assert max(width(l) for l in lines) <= limit, lang
            if limit == 40:
                assert max(width(l) for l in lines) >= 36
            for line in lines:
                assert line == line.rstrip()


def run_tty(args, env):
    """Runs postern with stdout on a pseudo-terminal; returns output."""
    master, slave = pty.openpty()
    full = dict(os.environ, **env)
    full.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.Popen([POSTERN] + args, stdout=slave,
                         stderr=subprocess.PIPE, env=full)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    _, err = p.communicate(timeout=30)
    assert_no_sanitizer(err.decode(errors="replace"))
    assert p.returncode == 0
    return b"".join(chunks).decode()


def test_bold_only_on_tty_without_no_color():
    env = dict(ENV_EN, COLUMNS="80", TERM="xterm")
    out = run_tty(["explain", "334"], env)
    assert "\x1b[1m334  Server challenge" in out
    out = run_tty(["explain", "334"], dict(env, NO_COLOR="1"))
    assert "\x1b[" not in out
    out = run_tty(["compare", "334", "556"], dict(env, NO_COLOR="1"))
    assert "\x1b[" not in out


# --- compare ---------------------------------------------------------------

def test_compare_text_english():
    p = pt("compare", "334", "556")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("334 vs 556\n")
    assert re.search(r"334  Server challenge +556  Domain does not accept "
                     r"mail", out)
    for heading in ("\nClass\n", "\nDescription\n", "\nWhen you see it\n",
                    "\nHow to resolve\n", "\nDefined in\n",
                    "\nKey differences\n"):
        assert heading in out
    f = flat(out)
    assert ("1. 334 is a 3xx reply (Positive Intermediate): the client "
            "should continue the exchange. 556 is a 5xx reply (Permanent "
            "Negative Completion): the client should give up and not retry "
            "it unchanged.") in f
    assert ('334 means "Server challenge", while 556 means "Domain does '
            'not accept mail".') in f
    assert "334 answers AUTH; 556 answers connect, MAIL, RCPT." in f
    assert "334 is defined in RFC 4954; 556 in RFC 7504, RFC 7505." in f
    diffs = flat(out.split("Key differences")[1]).lower()
    assert not re.search(r"\b(\w+) \1\b", diffs), "doubled word"
    assert max(width(l) for l in out.splitlines()) <= 80


def test_compare_text_japanese():
    p = pt("compare", "334", "556", env={"LANG": "ja_JP.UTF-8"})
    assert p.returncode == 0
    out = p.stdout
    assert out.startswith("334 と 556 の比較\n")
    for heading in ("\nクラス\n", "\n説明\n", "\nこのコードが表示される場合\n",
                    "\n解決方法\n", "\n定義\n", "\n主な違い\n"):
        assert heading in out
    assert has_ja(out, "334 は 3xx（肯定中間応答）の応答で、クライアントは"
                  "やり取りを続けます。556 は 5xx（永続的否定完了応答）の応答で、"
                  "クライアントはあきらめ、同じ内容では再試行しません。")
    assert has_ja(out, "334 は「サーバーからの認証チャレンジ」、556 は"
                  "「ドメインはメールを受け付けません」を意味します。")
    assert max(width(l) for l in out.splitlines()) <= 80


def test_compare_json():
    p = pt("compare", "--json", "334", "556")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["lang"] == "en"
    a, b = doc["codes"]
    assert (a["code"], a["class"], a["action"]) == ("334", 3, "continue")
    assert (b["code"], b["class"], b["action"]) == ("556", 5, "do_not_retry")
    assert a["when"].startswith("After AUTH")
    assert doc["same_class"] is False
    assert len(doc["differences"]) == 6
    assert doc["error"] is None
    p = pt("compare", "--json", "--lang", "ja", "4.2.2", "5.2.2")
    doc = json.loads(p.stdout)
    assert doc["lang"] == "ja"
    assert [c["registry_code"] for c in doc["codes"]] == ["X.2.2", "X.2.2"]
    assert [c["action"] for c in doc["codes"]] == ["retry_later",
                                                   "do_not_retry"]
    assert doc["differences"][1] == "どちらも「メールボックスの状態」に関するコードです。"


def test_compare_basic_with_enhanced():
    p = pt("compare", "550", "5.1.1")
    assert p.returncode == 0
    f = flat(p.stdout)
    assert ("550 is a basic reply code, which decides what the client "
            "does; 5.1.1 is an enhanced status code (RFC 3463), which only "
            "adds the reason.") in f
    assert ('The IANA registry lists 5.1.1 with basic code 550, so they '
            'often come together, as in "550 5.1.1".') in f
    p = pt("compare", "5.1.1", "5.1.1")
    assert "Both arguments are the same code." in p.stdout


def test_compare_narrow_terminal_stacks():
    p = pt("compare", "334", "556", env={"COLUMNS": "50"})
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert max(width(l) for l in lines) <= 50
    assert lines.index("334  Server challenge") < \
        lines.index("556  Domain does not accept mail")


def test_compare_errors():
    p = pt("compare", "334")
    assert p.returncode == 64
    assert p.stderr.startswith("usage: postern compare")
    p = pt("compare", "334", "556", "250")
    assert p.returncode == 64
    p = pt("compare", "334", "299")
    assert p.returncode == 65
    assert "299: not a known reply code" in p.stderr
    p = pt("compare", "--json", "334", "nope")
    assert p.returncode == 65
    doc = json.loads(p.stdout)
    assert doc["codes"] is None and doc["error"] == "nope"
    assert pt("compare", "--help").returncode == 0


# --- coverage --------------------------------------------------------------

def test_every_iana_code_explained():
    fixture = ROOT / "tests" / "fixtures" / "iana-enhanced-status-codes.tsv"
    codes = {}
    for line in fixture.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, title = line.split("\t")
        if "YYY" not in code:
            codes[code] = title
    assert len(codes) == 81
    p, doc = explain_json(*codes)
    assert p.returncode == 0, p.stderr
    for r in doc["results"]:
        assert r["found"], r["input"]
        e = r["enhanced"]
        if codes[r["input"]]:
            assert e["title"].lower() == codes[r["input"]].lower()


def test_every_server_reply_explained():
    rows = []
    for line in (ROOT / "data" / "replies" / "server.tsv").read_text() \
            .splitlines():
        if line.startswith("#") or not line.strip():
            continue
        _, code, enh, text = line.split("\t")
        rows.append(" ".join(x for x in (code, enh, text) if x))
    p, doc = explain_json(*rows)
    assert p.returncode == 0, p.stderr
    assert len(doc["results"]) == len(rows)
    for r in doc["results"]:
        assert r["found"] and not r["malformed"], r["input"]
        assert r["basic"]["title"]
