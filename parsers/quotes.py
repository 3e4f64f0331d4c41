"""A reply cut down to the writer's new text (spec, rule 8).

Plain text is read top to bottom and cut at the first line that starts quoted history
(an attribution line, an Outlook header block, an "Original Message" separator) or a
signature (the "-- " delimiter, a mobile footer). A `>` quote that the writer answers
below is kept together with the answer; a mobile footer above everything else (where iOS
and Android put it, and leave it when the writer answers below the quote) is cut off the
top. Then the tail is peeled: a trailing `>` quote, a mailing-list footer, a separator
rule, a short sign-off.

HTML is converted to text with the stdlib parser first (html.py); the quote containers of
the common clients become `>` quotes, their attribution elements count as attributions and
signatures are dropped, so both kinds of mail go through the same rules. The HTML part is
trimmed that way even when the text part gives the post's text: Reply.html is its new part,
cut where the kept text ends in it and sanitized (sanitize.py).

Everything is linear in the input: patterns only ever see one short line or a few joined
lines, never the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.html import HtmlText, html_to_text
from parsers.sanitize import sanitize_html, text_to_html


@dataclass(frozen=True)
class Reply:
    text: str     # the writer's new text only; leading/trailing blank lines stripped
    trimmed: str  # everything that was cut, for audit; "" if nothing
    # The new part of the mail's HTML part, sanitized for display (sanitize.py). The HTML
    # part's own rendering is trimmed by the same rules, and the HTML is cut where its kept
    # text ends (and, below a mobile footer cut off the top, starts), signature elements
    # taken out. HTML nested too deep to sanitize quickly is given as its kept text, in <p>.
    # "" when nothing new is left; None when the mail has no HTML part.
    html: str | None = None


@dataclass(frozen=True)
class AttributionWords:
    """How one language writes the line above a quote: "On <date>, <name> wrote:"."""

    intros: tuple[str, ...] = ()     # how the line starts: "on", "le", "am"
    end_verbs: tuple[str, ...] = ()  # verb at the end, before an optional colon: "wrote"
    mid_verbs: tuple[str, ...] = ()  # verb before the name: "Am <date> schrieb <name>:"
    # verb between the name and the date: "<name> <addr> kirjoitti <date>:" (Apple Mail fi,
    # Gmail pt-PT, Thunderbird's "<name> wrote on <date>:")
    date_verbs: tuple[str, ...] = ()


ATTRIBUTIONS: dict[str, AttributionWords] = {
    "en": AttributionWords(("on",), ("wrote", "writes"), (), ("wrote on",)),
    "fr": AttributionWords(("le",), ("a écrit", "écrit")),
    # Gmail writes "<name> <addr> schrieb am <date>:"
    "de": AttributionWords(("am",), ("schrieb", "geschrieben"), ("schrieb",), ("schrieb am",)),
    "nl": AttributionWords(("op",), ("schreef", "geschreven"), ("schreef",)),
    "it": AttributionWords(("il", "in data"), ("ha scritto", "scritto", "scrisse")),
    "es": AttributionWords(("el",), ("escribió",)),
    "ca": AttributionWords(("el",), ("ha escrit", "va escriure")),
    "pt": AttributionWords(("em", "no dia"), ("escreveu",), (), ("escreveu no dia", "escreveu em", "escreveu")),
    "pl": AttributionWords(("w dniu", "dnia"), ("napisał", "napisała", "napisał(a)", "pisze"), (),
                           ("w dniu",)),  # Apple Mail: "Wiadomość napisana przez <name> w dniu <date>:"
    "da": AttributionWords(("den",), ("skrev",), ("skrev",)),
    "no": AttributionWords(("den",), ("skrev",), ("skrev",)),
    "sv": AttributionWords(("den",), ("skrev",), ("skrev",)),
    "fi": AttributionWords((), ("kirjoitti",), (), ("kirjoitti",)),
    "hu": AttributionWords((), ("írta",), (), ("ezt írta",)),  # Gmail: "<name> ezt írta (időpont: <date>):"
    "cs": AttributionWords(("dne",), ("napsal", "napsala", "napsal(a)")),
    "ru": AttributionWords((), ("написал", "написала", "написал(а)", "пишет")),
    "uk": AttributionWords((), ("написав", "написала", "написав(ла)", "написала(в)", "пише")),
    "tr": AttributionWords((), ("yazdı",)),
    "zh": AttributionWords(("在",), ("写道", "寫道")),
    "ja": AttributionWords((), ("のメッセージ", "のメール", "は書きました", "さんは書きました")),
    "ko": AttributionWords((), ("작성",)),
}

# Labels of the header block that Outlook and others put above quoted or forwarded mail.
# Roles: from, date, to, cc, subject. A block needs a "from" line and one other role.
HEADER_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"from": ("from",), "date": ("sent", "date"), "to": ("to",), "cc": ("cc", "bcc"),
           "subject": ("subject",)},
    "fr": {"from": ("de",), "date": ("envoyé", "envoyé le", "date", "message du"), "to": ("à", "a"),
           "cc": ("copie à",), "subject": ("objet", "sujet")},
    "de": {"from": ("von",), "date": ("gesendet", "datum"), "to": ("an",), "cc": ("kopie",),
           "subject": ("betreff",)},
    "nl": {"from": ("van",), "date": ("verzonden", "datum"), "to": ("aan",), "subject": ("onderwerp",)},
    "it": {"from": ("da",), "date": ("inviato", "data"), "to": ("a",), "subject": ("oggetto",)},
    "es": {"from": ("de",), "date": ("enviado", "enviado el", "fecha"), "to": ("para",),
           "subject": ("asunto",)},
    "pt": {"from": ("de",), "date": ("enviado", "enviada", "data"), "to": ("para",), "subject": ("assunto",)},
    "da": {"from": ("fra",), "date": ("sendt", "dato"), "to": ("til",), "subject": ("emne",)},
    "no": {"from": ("fra",), "date": ("sendt", "dato"), "to": ("til",), "subject": ("emne",)},
    "sv": {"from": ("från",), "date": ("skickat", "datum"), "to": ("till",), "cc": ("kopia",),
           "subject": ("ämne",)},
    "fi": {"from": ("lähettäjä",), "date": ("lähetetty", "päivämäärä"), "to": ("vastaanottaja",),
           "subject": ("aihe",)},
    "pl": {"from": ("od",), "date": ("wysłano", "data"), "to": ("do",), "cc": ("dw",), "subject": ("temat",)},
    "ru": {"from": ("от",), "date": ("отправлено", "дата"), "to": ("кому",), "cc": ("копия",),
           "subject": ("тема",)},
    "uk": {"from": ("від",), "date": ("надіслано", "дата"), "to": ("кому",), "cc": ("копія",),
           "subject": ("тема",)},
    "zh": {"from": ("发件人", "發件人", "寄件者"), "date": ("发送时间", "日期", "寄件日期"),
           "to": ("收件人", "收件者"), "cc": ("抄送", "副本"), "subject": ("主题", "主題", "主旨")},
    "ja": {"from": ("差出人",), "date": ("送信日時", "日付"), "to": ("宛先",), "subject": ("件名",)},
    "ko": {"from": ("보낸 사람",), "date": ("보낸 날짜", "날짜"), "to": ("받는 사람",), "cc": ("참조",),
           "subject": ("제목",)},
}

# Between dashes: "-----Original Message-----", "---------- Forwarded message ---------".
ORIGINAL_MESSAGE: dict[str, tuple[str, ...]] = {
    "en": ("original message",),
    "fr": ("message d'origine", "message original"),
    "de": ("ursprüngliche nachricht", "originalnachricht"),
    "nl": ("oorspronkelijk bericht", "origineel bericht"),
    "it": ("messaggio originale",),
    "es": ("mensaje original",),
    "pt": ("mensagem original",),
    "da": ("oprindelig besked", "oprindelig meddelelse"),
    "no": ("opprinnelig melding", "original melding"),
    "sv": ("ursprungligt meddelande", "originalmeddelande"),
    "fi": ("alkuperäinen viesti",),
    "pl": ("wiadomość oryginalna", "oryginalna wiadomość"),
    "cs": ("původní zpráva",),
    "hu": ("eredeti üzenet",),
    "ru": ("исходное сообщение", "исходное письмо"),
    "uk": ("оригінальне повідомлення", "початкове повідомлення", "вихідне повідомлення"),
    "zh": ("原始邮件", "原始郵件"),
    "ja": ("元のメッセージ", "オリジナル メッセージ", "元のメール"),
}
FORWARDED_MESSAGE: dict[str, tuple[str, ...]] = {
    "en": ("forwarded message",),
    "fr": ("message transféré",),
    "de": ("weitergeleitete nachricht",),
    "nl": ("doorgestuurd bericht",),
    "it": ("messaggio inoltrato",),
    "es": ("mensaje reenviado",),
    "pt": ("mensagem encaminhada",),
    "da": ("videresendt meddelelse", "videresendt besked"),
    "no": ("videresendt melding",),
    "sv": ("vidarebefordrat meddelande",),
    "fi": ("välitetty viesti",),
    "pl": ("wiadomość przekazana", "przekazana wiadomość", "wiadomość przekazana dalej"),
    "ru": ("пересылаемое сообщение", "пересланное сообщение"),
    "uk": ("пересланий лист", "переслане повідомлення", "пересилане повідомлення"),
    "zh": ("已转发邮件", "转发的邮件", "轉寄的郵件", "已轉寄郵件"),
    "ja": ("転送されたメッセージ", "転送メッセージ"),
}
# A line of its own (Apple Mail): "Begin forwarded message:".
FORWARD_INTROS: dict[str, tuple[str, ...]] = {
    "en": ("begin forwarded message",),
    "fr": ("début du message réexpédié", "début du message transféré"),
    "de": ("anfang der weitergeleiteten nachricht",),
    "nl": ("begin doorgestuurd bericht",),
    "it": ("inizio messaggio inoltrato",),
    "es": ("inicio del mensaje reenviado", "comienzo del mensaje reenviado"),
    "pt": ("início da mensagem reencaminhada", "início da mensagem encaminhada"),
    "sv": ("vidarebefordrat brev", "vidarebefordrat meddelande"),
    "da": ("videresendt besked", "start på videresendt besked"),
    "no": ("videresendt melding", "begynnelse på videresendt melding"),
    "fi": ("välitetty viesti alkaa", "välitetty viesti"),
    "pl": ("początek przekazywanej wiadomości", "początek przekazanej wiadomości"),
    "ru": ("начало переадресованного сообщения", "начало пересылаемого сообщения"),
    "uk": ("початок пересланого листа", "початок листа, що пересилається"),
    "zh": ("以下是转发的邮件", "轉寄的郵件如下", "转发的邮件"),
    "ja": ("転送されたメッセージ",),
}

# Mobile and webmail footers: "Sent from my iPhone", "Get Outlook for iOS". A footer line
# is the prefix plus at most five words; the prefixes without "my" also need a product word.
FOOTERS_WITH_MY: dict[str, tuple[str, ...]] = {
    "en": ("sent from my ",),
    "fr": ("envoyé de mon ", "envoyé depuis mon "),
    "de": ("gesendet von meinem ", "von meinem "),
    "es": ("enviado desde mi ",),
    "pt": ("enviado do meu ", "enviado de meu "),
    "it": ("inviato dal mio ", "inviato da "),
    "nl": ("verzonden vanaf mijn ", "verstuurd vanaf mijn ", "verzonden met mijn "),
    "sv": ("skickat från min ",),
    "da": ("sendt fra min ",),
    "no": ("sendt fra min ",),
    "pl": ("wysłane z mojego ", "wysłano z mojego "),
    "ru": ("отправлено с моего ",),
    "uk": ("надіслано з мого ",),
    "zh": ("发自我的", "發自我的", "从我的", "從我的"),  # no space before the device: "发自我的iPhone"
}
FOOTERS_GENERIC: dict[str, tuple[str, ...]] = {
    "en": ("sent from ", "sent with ", "sent via ", "sent using ", "get outlook for "),
    "fr": ("envoyé de ", "envoyé depuis ", "envoyé à partir de ", "obtenir outlook pour ", "télécharger outlook pour "),
    "de": ("gesendet von ", "gesendet mit ", "holen sie sich outlook für "),
    "es": ("enviado desde ", "obtener outlook para "),
    "pt": ("enviado do ", "enviado de ", "enviado a partir do ", "obter o outlook para "),
    "it": ("scarica outlook per ",),
    "nl": ("verzonden vanaf ", "verzonden met ", "download outlook voor "),
    "sv": ("skickat från ", "hämta outlook för "),
    "da": ("sendt fra ", "hent outlook til "),
    "no": ("sendt fra ", "få outlook for "),
    "fi": ("lähetetty ",),
    "pl": ("wysłane z ", "wysłano z ", "pobierz outlook dla "),
    "cs": ("odesláno z ",),
    "ru": ("отправлено с ", "отправлено из "),
    "uk": ("надіслано з ", "надіслано із "),
}
# The footers that end with the verb: "iPhoneから送信", "iPhone에서 보냄", "從我的 iPhone 傳送",
# "Outlook für Android herunterladen"; the words before it need a product word.
FOOTER_ENDINGS: dict[str, tuple[str, ...]] = {
    "ja": ("から送信",),
    "ko": ("에서 보냄",),
    "zh": ("傳送", "发送"),
    "tr": ("'dan gönderildi", "’dan gönderildi", "'umdan gönderildi", "’umdan gönderildi"),
    "de": (" herunterladen",),
    "nl": (" downloaden",),
}
# Product words of a footer. Brands may carry an inflection ("iPhone'a", "iPhonesta");
# the common nouns must be the word itself ("Sent from devices in the lab" is no footer).
FOOTER_BRANDS = (
    "iphone ipad ipod android ios outlook yahoo aol gmail samsung galaxy blackberry windows typeapp proton "
    "spark bluemail airmail edison huawei xiaomi pixel nokia motorola htc sony oneplus verizon".split()
)
FOOTER_PRODUCTS = frozenset(
    "mail mobile phone smartphone tablet device handy mobil móvil celular téléphone portable smartfon "
    "телефон смартфон".split()
)
# Outlook's text part writes its footer's link as "text<url>": "Get Outlook for iOS<https://aka.ms/o0ukef>"
_OUTLOOK_APP_LINK = re.compile(r"\S<https://aka\.ms/\w+>")

# A sign-off line that opens a short signature block at the end: "Regards,\nJohn".
VALEDICTIONS: dict[str, tuple[str, ...]] = {
    "en": ("regards", "best regards", "kind regards", "warm regards", "warmest regards", "many regards",
           "best wishes", "all the best", "best", "cheers", "thanks", "thank you", "many thanks",
           "thanks again", "thanks in advance", "thanks so much", "thank you very much", "with thanks",
           "sincerely", "yours sincerely", "sincerely yours", "yours truly", "yours", "respectfully",
           "take care", "talk soon"),
    "fr": ("cordialement", "bien cordialement", "bien à vous", "bien à toi", "merci", "merci beaucoup",
           "merci d'avance", "merci d’avance", "salutations", "sincères salutations", "meilleures salutations",
           "amicalement", "bonne journée"),
    "de": ("mit freundlichen grüßen", "freundliche grüße", "viele grüße", "liebe grüße", "beste grüße",
           "herzliche grüße", "schöne grüße", "grüße", "gruß", "lg", "vg", "danke", "vielen dank",
           "danke und gruß", "mfg"),
    "es": ("saludos", "un saludo", "saludos cordiales", "atentamente", "gracias", "muchas gracias", "cordialmente",
           "un abrazo"),
    "it": ("cordiali saluti", "distinti saluti", "saluti", "un saluto", "grazie", "grazie mille", "cordialmente",
           "buona giornata"),
    "nl": ("met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groeten", "vriendelijke groet",
           "hartelijke groet", "groeten", "groet", "groetjes", "bedankt", "mvg"),
    "pt": ("atenciosamente", "obrigado", "obrigada", "abraços", "abraço", "cumprimentos", "cordialmente",
           "att", "melhores cumprimentos", "com os melhores cumprimentos"),
    "sv": ("med vänlig hälsning", "med vänliga hälsningar", "vänliga hälsningar", "vänlig hälsning",
           "hälsningar", "bästa hälsningar", "tack", "mvh"),
    "da": ("med venlig hilsen", "venlig hilsen", "de bedste hilsner", "bedste hilsner", "hilsen", "kærlig hilsen",
           "tak", "mvh"),
    "no": ("med vennlig hilsen", "vennlig hilsen", "beste hilsen", "hilsen", "takk", "mvh"),
    "fi": ("ystävällisin terveisin", "parhain terveisin", "terveisin", "kiittäen", "kiitos", "yst. terv"),
    "pl": ("pozdrawiam", "serdecznie pozdrawiam", "pozdrowienia", "z poważaniem", "z wyrazami szacunku",
           "dziękuję"),
    "cs": ("s pozdravem", "děkuji"),
    "hu": ("üdvözlettel", "köszönöm"),
    "tr": ("teşekkürler", "teşekkür ederim", "saygılarımla", "iyi çalışmalar"),
    "ru": ("с уважением", "спасибо", "заранее спасибо", "всего доброго", "всего хорошего",
           "с наилучшими пожеланиями"),
    "uk": ("з повагою", "дякую", "заздалегідь дякую", "з найкращими побажаннями", "всього найкращого"),
    "zh": ("谢谢", "謝謝", "此致", "此致敬礼", "祝好"),
    "ja": ("よろしくお願いいたします", "よろしくお願いします", "宜しくお願い致します"),
    "ko": ("감사합니다",),
}


def _flatten(table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(word for words in table.values() for word in words))


_INTROS = tuple(dict.fromkeys(f"{w} " for lang in ATTRIBUTIONS.values() for w in lang.intros))
_END_VERBS = tuple(dict.fromkeys(w for lang in ATTRIBUTIONS.values() for w in lang.end_verbs))
_MID_VERBS = tuple(dict.fromkeys(f" {w} " for lang in ATTRIBUTIONS.values() for w in lang.mid_verbs))
_DATE_VERBS = tuple(dict.fromkeys(f" {w} " for lang in ATTRIBUTIONS.values() for w in lang.date_verbs))
_HEADER_ROLES = {label: role for lang in HEADER_LABELS.values() for role, labels in lang.items() for label in labels}
_SEPARATORS = frozenset(_flatten(ORIGINAL_MESSAGE) + _flatten(FORWARDED_MESSAGE))
_FORWARDED = frozenset(_flatten(FORWARDED_MESSAGE))
_FORWARD_INTROS = _flatten(FORWARD_INTROS)
_FOOTERS_WITH_MY = _flatten(FOOTERS_WITH_MY)
_FOOTERS_GENERIC = _flatten(FOOTERS_GENERIC)
_FOOTER_ENDINGS = _flatten(FOOTER_ENDINGS)
_FOOTER_STARTS = _FOOTERS_WITH_MY + _FOOTERS_GENERIC
_FOOTER_BRANDS = tuple(FOOTER_BRANDS)
_VALEDICTIONS = frozenset(word.casefold() for word in _flatten(VALEDICTIONS))

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_FIRST = re.compile(r"[ \t]*[^\W\d][\w.'\- \t\"]{0,60}?[ \t]*(?:\(?<[\w.+'-]+@[\w-]+(?:\.[\w-]+)+>\)?"
                         r"|\([\w.+'-]+@[\w-]+(?:\.[\w-]+)+\)|<[ \t]*$)")
# Gmail's date-first attribution without a verb or colon (older Gmail, in Japanese or Chinese
# among others): "2013/7/20 Kenji Tanaka <kenji@example.jp>", a `>` quote under it
_DATE_FIRST_BARE = re.compile(r"[ \t]*(?:19|20)\d\d[/.-]\d{1,2}[/.-]\d{1,2}(?:[ \t]+\d{1,2}:\d\d)?[ \t]+"
                              r"[^<>@\n]{1,80}<[\w.+'-]+@[\w-]+(?:\.[\w-]+)+>[ \t]*$")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}|\d{1,2}[:.h]\d{2}|\b(?:19|20)\d{2}\b")
_DIGIT = re.compile(r"\d")
_ANGLE_LINK = re.compile(r"<[^<>\s]{1,300}>")
# ">" quotes, and the "|" with which some clients and lists quote (one "|" at the start and no
# other on the line: "| a | b |" is a table row)
_QUOTED = re.compile(r"[ \t]*(?:>|\|(?![^|]*\|))")

MAX_ATTRIBUTION = 400  # characters of an attribution, its wrapped lines joined
MAX_HEADER_LINES = 12
SIGNOFF_MAX_LINES = 6  # lines under "Regards," that still make a signature block
LIST_FOOTER_MAX_LINES = 8
MAX_PEELS = 20  # tail pieces peeled off one after the other (quote, footer, sign-off...)
MAX_HTML_NESTING = 256  # elements open at once; HTML nested deeper is kept as its text


# ---------------------------------------------------------------------------------------
# Public entry point


def extract_reply(text: str | None, html: str | None = None) -> Reply:
    """The writer's new text of a reply, what was cut off, and the new part of its HTML.

    The text comes from the text part when there is one, else from the HTML part.
    """
    from_html = _trim_html(html) if html is not None else None
    if text and not text.isspace():
        lines = split_lines(text)
        kept, trimmed = _texts(lines, _cut(lines))
        return Reply(kept, trimmed, None if from_html is None else from_html.html)
    if from_html is not None:
        return from_html
    return Reply("", "")


def split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


@dataclass(frozen=True)
class _Cut:
    head: int   # lines above this one were cut (a mobile footer on top); 0 if none
    start: int  # the new text: lines[start:end], without lines[dropped[0]:dropped[1]]
    end: int
    rest: int   # the first line of what was cut below it
    # the attribution above the first quote of a writer who answers below the quotes
    dropped: tuple[int, int] | None = None


# (first line, number of lines) of attributions the HTML marked as such, by the element
Attributions = dict[int, int]


def _cut(lines: list[str], known: Attributions | None = None) -> _Cut:
    known = known or {}
    head, cut, dropped = _first_cut(lines, known)
    end = _rstrip_blank(lines, _peel(lines, cut, head, known))
    start = _first_text(lines, head, end)
    end = max(start, end)
    if dropped is not None and not (start <= dropped[0] and dropped[1] < end):
        dropped = None  # nothing was answered below it: the quote went with the tail
    return _Cut(head, start, end, _first_text(lines, end, len(lines)), dropped)


def _texts(lines: list[str], cut: _Cut) -> tuple[str, str]:
    """(new text, trimmed text)."""
    above = "\n".join(line for line in lines[:cut.head] if not _blank(line))
    kept = lines[cut.start:cut.end]
    attribution = ""
    if cut.dropped is not None:
        first, stop = cut.dropped
        attribution = "\n".join(lines[first:stop]).strip("\n")
        above_it, below_it = lines[cut.start:first], lines[stop:cut.end]
        if not above_it or _blank(above_it[-1]):
            below_it = below_it[_first_text(below_it, 0, len(below_it)):]
        kept = above_it + below_it
    return "\n".join(kept).rstrip(), _join(above, attribution, "\n".join(lines[cut.rest:]).rstrip())


def _trim_html(html: str) -> Reply:
    if html.isspace():
        return Reply("", "", "")
    converted = html_to_text(html, for_reply=True)
    lines = split_lines(converted.text)
    cut = _cut(lines, dict(converted.attributions))
    kept, trimmed = _texts(lines, cut)
    deepest = max(converted.nesting[cut.start:cut.end], default=0)
    # the sanitizer's HTML parser takes quadratic time over deeply nested elements
    shown = text_to_html(kept) if deepest > MAX_HTML_NESTING else sanitize_html(_html_between(converted, cut))
    return Reply(kept, _join(trimmed, converted.dropped), shown)


def _html_between(converted: HtmlText, cut: _Cut) -> str:
    """The source of the kept lines: from the start (or, below a cut head, from the first
    kept line) to the end of the last kept line's content, without the removed elements."""
    spans = [span for span in converted.spans[cut.start:cut.end] if span]
    if not spans:
        return ""
    source = converted.source
    at = spans[0][0] if cut.head else 0
    end = max(span[1] for span in spans)
    removed = list(converted.removed)
    if cut.dropped is not None:
        removed.extend(span for span in converted.spans[cut.dropped[0]:cut.dropped[1]] if span)
    pieces = []
    for start, stop in sorted(removed):
        if stop <= at or start >= end:
            continue
        pieces.append(source[at:start])
        at = stop
    pieces.append(source[at:end])
    return "".join(pieces)


def _first_text(lines: list[str], start: int, end: int) -> int:
    while start < end and _blank(lines[start]):
        start += 1
    return start


# ---------------------------------------------------------------------------------------
# Line classifiers (forwards.py uses the public ones)


# Invisible characters that some clients and add-ons leave on a line of their own (a Gmail
# add-on's zero-width marker, a byte order mark): such a line is blank.
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_BLANK_CHARS = _INVISIBLE + " \t\r\n\f\v\u00a0\u3000"


def _blank(line: str) -> bool:
    if not line or line.isspace():
        return True
    if line[0] not in _BLANK_CHARS:
        return False
    rest = line.strip(_BLANK_CHARS)
    return not rest or rest.isspace()


def _quoted(line: str) -> bool:
    return _QUOTED.match(line) is not None


def _in_quote(lines: list[str], k: int) -> bool:
    """Line k belongs to a `>` quote: quoted, or a lowercase line that the sender's client
    wrapped out of the quoted line right above it ("> ...tortor in\nrhoncus.")."""
    line = lines[k]
    if _quoted(line):
        return True
    return k > 0 and line[:1].islower() and _quoted(lines[k - 1])


def is_signature_delimiter(line: str) -> bool:
    return len(line) <= 5 and line.rstrip() == "--"


def _is_rule(line: str) -> bool:
    """A line drawn with one punctuation character: "-----", "=====", "_____", "+++++", "* * *"."""
    if len(line) > 200:
        return False
    s = line.strip().replace(" ", "")
    return len(s) >= 2 and s[0] in "-_=*~#+" and s == s[0] * len(s)


def is_separator(line: str) -> bool:
    """ "-----Original Message-----", "---------- Forwarded message ---------" and the like."""
    if len(line) > 200:
        return False
    s = line.strip()
    return s[:2] in ("--", "==", "__") and " ".join(s.strip("-=_* \t").rstrip(":").split()).casefold() in _SEPARATORS


def is_forward_separator(line: str) -> bool:
    """ "---------- Forwarded message ---------" and its translations (not "Original Message")."""
    if len(line) > 200:
        return False
    s = line.strip()
    return s[:2] in ("--", "==", "__") and " ".join(s.strip("-=_* \t").rstrip(":").split()).casefold() in _FORWARDED


def is_forward_intro(line: str) -> bool:
    """Apple Mail's "Begin forwarded message:" and its translations."""
    if len(line) > 100:
        return False
    return " ".join(line.strip().rstrip(":").split()).casefold() in _FORWARD_INTROS


def is_mobile_footer(line: str) -> bool:
    """ "Sent from my iPhone", "iPhoneから送信", "Get Outlook for iOS<https://aka.ms/o0ukef>"."""
    if len(line) > 200:
        return False
    low = line.casefold()
    if "aka.ms/" in low and "outlook" in low and _OUTLOOK_APP_LINK.search(line) \
            and len(_ANGLE_LINK.sub(" ", line).split()) <= 8:
        return True
    # "--Sent from my iPhone": a delimiter written on the same line
    low = low.strip().lstrip("-–— ")
    if not low.startswith(_FOOTER_STARTS) and not low.rstrip(".!。").endswith(_FOOTER_ENDINGS):
        return False
    # only the first sentence counts: "Sent from my Android device with K-9 Mail. Please excuse my brevity."
    s = " ".join(_ANGLE_LINK.sub(" ", low).split()).split(". ")[0].rstrip(".!。")
    if not s or len(s) > 80:
        return False
    for prefix in _FOOTERS_WITH_MY:
        if s.startswith(prefix) and len(s[len(prefix):].split()) <= 5:
            return True
    for prefix in _FOOTERS_GENERIC:
        if s.startswith(prefix) and _names_a_product(s[len(prefix):]):
            return True
    for ending in _FOOTER_ENDINGS:
        if s.endswith(ending) and _names_a_product(s[:-len(ending)], words=3):
            return True
    return False


def _names_a_product(text: str, words: int = 5) -> bool:
    found = [word.strip("()") for word in text.replace(",", " ").split()]
    return 0 < len(found) <= words and any(word in FOOTER_PRODUCTS or word.startswith(_FOOTER_BRANDS) for word in found)


def header_field(line: str) -> tuple[str, str] | None:
    """(role, value) of a header-block line such as "*From:* John <j@x.org>", else None."""
    head = line[:80].lstrip(" \t>*")
    colon = _label_end(head)
    if colon < 0:
        return None
    role = _HEADER_ROLES.get(" ".join(head[:colon].strip(" \t*").split()).casefold())
    if role is None:
        return None
    value = line.lstrip(" \t>*")[colon + 1:].strip(" \t*")
    return role, value


def _label_end(head: str) -> int:
    ascii_colon = head.find(":", 1, 41)
    wide_colon = head.find("：", 1, 41)
    if wide_colon < 0 or 0 <= ascii_colon < wide_colon:
        return ascii_colon
    return wide_colon


def header_block_at(lines: list[str], i: int) -> dict[str, str] | None:
    """The fields (role -> value) of the header block ("From: ... / Sent: ... / To: ... /
    Subject: ...") that starts at line i, or None."""
    first = header_field(lines[i])
    if first is None:
        return None
    fields = {first[0]: first[1]}
    last_role, wrapped = first[0], 0
    for j in range(i + 1, min(len(lines), i + MAX_HEADER_LINES)):
        line = lines[j]
        if _blank(line):
            break
        found = header_field(line)
        if found is None:
            wrapped += 1
            if wrapped > 2:
                break
            if len(fields[last_role]) < MAX_ATTRIBUTION:  # "From: Name\n<addr>"
                fields[last_role] = f"{fields[last_role]} {line.strip()}".strip()
            continue
        if found[0] in fields:
            break
        wrapped = 0
        last_role = found[0]
        fields[found[0]] = found[1]
    if "from" not in fields or len(fields) < 2:
        return None
    # two short lines such as "A: yes / De: no" are not a header block: a real one has a
    # date, an address, or at least three of the fields
    if len(fields) >= 3 or _DIGIT.search(fields.get("date", "")) or any(
            "@" in value and _EMAIL.search(value) for value in fields.values()):
        return fields
    return None


def attribution_at(lines: list[str], i: int) -> int:
    """How many lines (1-3) the attribution line starting at line i spans, or 0."""
    first = lines[i]
    if len(first) > MAX_ATTRIBUTION:
        return 0
    if _may_end_attribution(first) and _window_is_attribution(lines, i, 1):
        return 1
    if _DATE_FIRST_BARE.match(first) and _quote_follows(lines, i + 1):
        return 1
    if not _starts_like_attribution(first):
        return 0
    for size in (2, 3):
        if i + size > len(lines):
            break
        last = lines[i + size - 1]
        # ">:" is the end of "<name@example.com" wrapped onto the next line, not a quote
        if _blank(last) or (_quoted(last) and last.strip() != ">:") or len(last) > MAX_ATTRIBUTION:
            break
        if _may_end_attribution(last) and _window_is_attribution(lines, i, size):
            if _later_start(first, lines[i + 1]) and _window_is_attribution(lines, i + 1, size - 1):
                return 0
            return size
    return 0


def _quote_follows(lines: list[str], j: int) -> bool:
    j = _first_text(lines, j, min(len(lines), j + 3))
    return j < len(lines) and _quoted(lines[j])


def _may_end_attribution(line: str) -> bool:
    tail = line[-60:].rstrip(" \t-")
    return tail[-1:] in (":", "：") or tail.casefold().endswith(_END_VERBS)


def _window_is_attribution(lines: list[str], i: int, size: int) -> bool:
    joined = " ".join(line.strip() for line in lines[i:i + size])
    return len(joined) <= MAX_ATTRIBUTION and _is_attribution(joined)


def _later_start(line: str, next_line: str) -> bool:
    """In "3 tests failed.\nOn <date>, <name> wrote:" the attribution starts on the second line;
    in "On Nov 21, 2014,\nat 10:18,\n<name> wrote:" it starts on the first."""
    if not _starts_with_intro(next_line):
        return False
    return not _starts_with_intro(line) or line.rstrip().endswith((".", "!", "?"))


def _starts_with_intro(line: str) -> bool:
    return line[:40].strip().lstrip("-> ").casefold().startswith(_INTROS)


def _starts_like_attribution(line: str) -> bool:
    """Starts with an intro word ("On", "Le") or a date ("2017-11-24", "pe 20. lokakuuta"), or
    with the name and address of a name-first attribution that the client wrapped ("Max Muster
    <max@example.de> schrieb am Fr., 28. Apr. 2017 um" / "Max Muster <")."""
    if _starts_with_intro(line):
        return True
    if _NAME_FIRST.match(line[:MAX_ATTRIBUTION]):
        return True
    words = line[:40].strip().lstrip("-> ").split()[:2]
    return any(_DIGIT.search(word) and "@" not in word and word[0] != "<" for word in words)


def _is_attribution(text: str) -> bool:
    s = text.strip().strip("-").strip()
    low = s.casefold()
    colon = low.endswith((":", "："))
    email = "@" in s and _EMAIL.search(s) is not None
    starts = _starts_like_attribution(s)
    if _ends_with_verb(low.rstrip(":：").rstrip()):
        if starts and (email or _DIGIT.search(s)) and (colon or email):
            return True
        return colon and email and "<" in s  # "Name <addr> schrieb:"
    if colon and _date_follows_verb(s, low):
        return True
    if not (colon and starts and _DIGIT.search(s)):
        return False
    if any(verb in low for verb in _MID_VERBS):  # "Am <date> schrieb <name>:"
        return True
    # date first, no verb: "2017-11-24 16:32 GMT+01:00 Name <addr>:"
    return email and low.rstrip(":：").rstrip().endswith(">") and _DATE.search(s) is not None


MAX_DATE_AFTER_VERB = 45  # characters of "<date>:" after "<name> kirjoitti"


def _date_follows_verb(s: str, low: str) -> bool:
    """ "<name> <addr> kirjoitti 4.3.2024 kello 16.02:": a name, a verb, then only a date."""
    for verb in _DATE_VERBS:
        at = low.find(verb)
        if at <= 0:
            continue
        rest = s[at + len(verb):].rstrip(":： ")
        if verb == " w dniu " and _EMAIL.search(s[:at]) is None:  # a common phrase without the address
            continue
        if len(rest) <= MAX_DATE_AFTER_VERB and _DATE.search(rest) and "@" not in rest:
            return True
    return False


def _ends_with_verb(body: str) -> bool:
    if not body.endswith(_END_VERBS):
        return False
    for verb in _END_VERBS:
        if body.endswith(verb):
            before = body[-len(verb) - 1:-len(verb)]
            latin = verb[0].isalpha() and ord(verb[0]) < 0x2E80  # CJK verbs follow the name directly
            if not (latin and before.isalnum()):
                return True
    return False


def _is_boundary(lines: list[str], i: int) -> bool:
    """Does quoted history or a signature start at line i (attribution lines aside)?"""
    line = lines[i]
    if is_signature_delimiter(line):
        return True
    head = line[:100].lstrip()
    if head[:1] in ("-", "=", "_") and is_separator(line):
        return True
    if is_mobile_footer(line):
        return True
    low = head[:40].casefold()
    if low.startswith(_FORWARD_INTROS) and is_forward_intro(line):
        return True
    return header_block_at(lines, i) is not None


# ---------------------------------------------------------------------------------------
# Plain-text trimming


def _first_cut(lines: list[str], known: Attributions) -> tuple[int, int, tuple[int, int] | None]:
    """(head, cut, dropped): the new text lies between head and cut. cut is the first line of
    quoted history or signature (len(lines) if none). head is past a mobile footer written
    above everything else: iOS and Android put it at the top of the compose area, and it
    stays there when the writer answers below the quote. dropped: the lines of the
    attribution above the first quote (iOS puts it inside the quote), which goes even when
    the writer answers below the quotes; the quotes they answered stay."""
    head = 0
    text_above = quote_seen = False
    dropped = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if _blank(line):
            i += 1
            continue
        if _QUOTED.match(line):
            if not quote_seen:
                size = _quoted_attribution_at(lines, i)
                dropped = (i, _past_bare_quotes(lines, i + size)) if size else None
            text_above = quote_seen = True
            i += 1
            continue
        if _is_boundary(lines, i):
            if text_above or not is_mobile_footer(line):
                return head, i, dropped
            head = i = i + 1
            continue
        text_above = True
        size = known.get(i) or attribution_at(lines, i)
        if size:
            answer = _inline_answer(lines, i + size, known)
            if answer is None:
                return head, i, dropped
            if not quote_seen:
                dropped = (i, i + size)
            quote_seen = True
            i = answer
            continue
        i += 1
    return head, len(lines), dropped


def _quoted_attribution_at(lines: list[str], i: int) -> int:
    """An attribution written as the first lines of the quote ("> On <date>, <name> wrote:")."""
    window = [_QUOTED.sub("", line, count=1).strip() for line in lines[i:i + 3] if _quoted(line)]
    return attribution_at(window, 0) if window else 0


def _past_bare_quotes(lines: list[str], j: int) -> int:
    """Past the empty quote lines (">") under a quoted attribution."""
    while j < len(lines) and _quoted(lines[j]) and not _QUOTED.sub("", lines[j], count=1).strip(" \t\ufeff"):
        j += 1
    return j


def _inline_answer(lines: list[str], j: int, known: Attributions) -> int | None:
    """After an attribution: where the writer's answer below the `>` quote starts, if any."""
    j = _first_text(lines, j, len(lines))
    if j >= len(lines) or not _quoted(lines[j]):
        return None
    while j < len(lines) and (_blank(lines[j]) or _in_quote(lines, j)):
        j += 1
    if j >= len(lines) or _is_rule(lines[j]) or _is_boundary(lines, j) or known.get(j) or attribution_at(lines, j):
        return None
    return j


def _peel(lines: list[str], end: int, head: int, known: Attributions) -> int:
    """Drop what hangs at the end of the new text: quotes, footers, sign-offs."""
    first_text = _first_text(lines, head, end)
    for _ in range(MAX_PEELS):
        before = end
        end = _peel_quote(lines, end)
        end = _peel_rule(lines, end)
        end = _peel_list_footer(lines, end)
        end = _peel_attribution(lines, end, known)
        end = _peel_signoff(lines, end, first_text)
        if end == before:
            break
    return end


def _rstrip_blank(lines: list[str], end: int) -> int:
    while end > 0 and _blank(lines[end - 1]):
        end -= 1
    return end


def _peel_quote(lines: list[str], end: int) -> int:
    e = _rstrip_blank(lines, end)
    if e == 0 or not _in_quote(lines, e - 1):
        return end
    while e > 0 and (_blank(lines[e - 1]) or _in_quote(lines, e - 1)):
        e -= 1
    return e


def _peel_rule(lines: list[str], end: int) -> int:
    e = _rstrip_blank(lines, end)
    return e - 1 if e and _is_rule(lines[e - 1]) else end


def _peel_list_footer(lines: list[str], end: int) -> int:
    """A mailing-list footer: a rule of underscores and a few short lines under it."""
    e = _rstrip_blank(lines, end)
    seen = 0
    for k in range(e - 1, max(-1, e - 3 * LIST_FOOTER_MAX_LINES), -1):
        line = lines[k]
        if _quoted(line) or seen > LIST_FOOTER_MAX_LINES:
            return end
        if _is_rule(line) and line.strip()[0] == "_":
            return k if seen else end
        if not _blank(line):
            seen += 1
    return end


def _peel_attribution(lines: list[str], end: int, known: Attributions) -> int:
    e = _rstrip_blank(lines, end)
    for start, size in known.items():
        if start + size == e:
            return start
    for size in (1, 2, 3):
        if e - size >= 0 and attribution_at(lines, e - size) == size:
            return e - size
    return end


def _peel_signoff(lines: list[str], end: int, first_text: int) -> int:
    """ "-Name" on the last line, or "Regards,\nName\nTitle" closing the text."""
    e = _rstrip_blank(lines, end)
    if e >= 2 and _is_dash_signoff(lines[e - 1]) and _blank(lines[e - 2]) and first_text < e - 2:
        return e - 1
    below = 0
    for k in range(e - 1, max(first_text, e - 3 * SIGNOFF_MAX_LINES), -1):
        line = lines[k]
        if _quoted(line) or len(line) > 80 or below > SIGNOFF_MAX_LINES:
            return end
        if _is_valediction(line):
            return k if below else end
        if not _blank(line):
            below += 1
    return end


def _is_dash_signoff(line: str) -> bool:
    """ "-Abhishek Kona", "--Bob", "---/dev/il": a name or a handle glued to one to three dashes.
    After one dash the name must be capitalised ("-milk" is a list item); after two or three
    it must not start in lower case ("--verbose" is an option)."""
    s = line.rstrip()
    rest = s.lstrip("-–—")
    dashes = len(s) - len(rest)
    if not 1 <= dashes <= 3 or not 1 <= len(rest) <= 30 or rest[0].islower():
        return False
    if not (rest[0].isalnum() or rest[0] in "/~@"):  # "-- John" is a delimiter, "--> see" an arrow
        return False
    words = rest.split()
    if len(words) > 3:
        return False
    if dashes > 1:
        return any(char.isalpha() for char in rest)
    return rest[0].isalpha() and all(w[0].isupper() and w.replace(".", "").replace("'", "").replace("-", "").isalpha()
                                     for w in words)


def _is_valediction(line: str) -> bool:
    s = line.strip()
    return len(s) <= 40 and s.rstrip(",.!。").strip().casefold() in _VALEDICTIONS
