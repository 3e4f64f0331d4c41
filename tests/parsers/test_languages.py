"""Quote attributions, Outlook header blocks and inline forwards as each client writes them,
in the languages of issue 4: en de fr es it nl pt pl ru uk sv no da fi zh ja.

Every sample is written the way the client itself renders it (Gmail web, Apple Mail on macOS
and iOS, Thunderbird, Outlook desktop and web, Yahoo), with the client's own date format.
"""

from __future__ import annotations

import pytest

from parsers.forwards import Forward, split_forward
from parsers.mime import parse_message
from parsers.quotes import extract_reply

# (language, client, attribution as the client writes it; "\n" where the client wraps)
ATTRIBUTIONS = [
    ("en", "gmail", "On Mon, Mar 4, 2024 at 4:02 PM Store Support <support@example.com> wrote:"),
    ("en", "apple", "On 4 Mar 2024, at 16:02, Store Support <support@example.com> wrote:"),
    ("en", "ios", "On Mar 4, 2024, at 4:02 PM, Store Support <support@example.com> wrote:"),
    ("en", "thunderbird", "On 04/03/2024 16:02, Store Support wrote:"),
    ("en", "yahoo", "On Monday, March 4, 2024, 04:02:11 PM GMT+1, Store Support <support@example.com> wrote:"),
    ("en", "outlook_mobile", "On Mon, Mar 4, 2024 at 4:02 PM +0100, \"Store Support\" <support@example.com> wrote:"),
    ("de", "gmail", "Am Mo., 4. März 2024 um 16:02 Uhr schrieb Store Support <support@example.com>:"),
    ("de", "apple", "Am 04.03.2024 um 16:02 schrieb Store Support <support@example.com>:"),
    ("de", "thunderbird", "Am 04.03.24 um 16:02 schrieb Store Support:"),
    ("de", "yahoo", "Am Montag, 4. März 2024, 16:02:11 MEZ hat Store Support <support@example.com> "
                    "Folgendes geschrieben:"),
    ("fr", "gmail", "Le lun. 4 mars 2024 à 16:02, Store Support <support@example.com> a écrit :"),
    ("fr", "apple", "Le 4 mars 2024 à 16:02, Store Support <support@example.com> a écrit :"),
    ("fr", "thunderbird", "Le 04/03/2024 à 16:02, Store Support a écrit :"),
    ("fr", "yahoo", "Le lundi 4 mars 2024, 16:02:11 UTC+1, Store Support <support@example.com> a écrit :"),
    ("es", "gmail", "El lun, 4 mar 2024 a las 16:02, Store Support (<support@example.com>) escribió:"),
    ("es", "apple", "El 4 mar 2024, a las 16:02, Store Support <support@example.com> escribió:"),
    ("es", "thunderbird", "El 4/3/24 a las 16:02, Store Support escribió:"),
    ("es", "yahoo", "El lunes, 4 de marzo de 2024, 16:02:11 CET, Store Support <support@example.com> escribió:"),
    ("it", "gmail", "Il giorno lun 4 mar 2024 alle ore 16:02 Store Support <support@example.com>\nha scritto:"),
    ("it", "apple", "Il giorno 4 mar 2024, alle ore 16:02, Store Support <support@example.com> ha scritto:"),
    ("it", "thunderbird", "Il 04/03/2024 16:02, Store Support ha scritto:"),
    ("it", "yahoo", "Il lunedì 4 marzo 2024, 16:02:11 CET, Store Support <support@example.com> ha scritto:"),
    ("nl", "gmail", "Op ma 4 mrt 2024 om 16:02 schreef Store Support <support@example.com>:"),
    ("nl", "apple", "Op 4 mrt. 2024 om 16:02 heeft Store Support <support@example.com> het volgende geschreven:"),
    ("nl", "thunderbird", "Op 04-03-2024 om 16:02 schreef Store Support:"),
    ("nl", "yahoo", "Op maandag 4 maart 2024 16:02:11 CET schreef Store Support <support@example.com>:"),
    ("pt", "gmail", "Em seg., 4 de mar. de 2024 às 16:02, Store Support <support@example.com> escreveu:"),
    ("pt", "gmail_pt_pt", "Store Support <support@example.com> escreveu no dia segunda, 4/03/2024 à(s) 16:02:"),
    ("pt", "apple", "Em 4 de mar. de 2024, à(s) 16:02, Store Support <support@example.com> escreveu:"),
    ("pt", "thunderbird", "Em 04/03/2024 16:02, Store Support escreveu:"),
    ("pl", "gmail", "pon., 4 mar 2024 o 16:02 Store Support <support@example.com> napisał(a):"),
    ("pl", "apple", "Wiadomość napisana przez Store Support <support@example.com> w dniu 04.03.2024, o godz. 16:02:"),
    ("pl", "thunderbird", "W dniu 4.03.2024 o 16:02, Store Support pisze:"),
    ("ru", "gmail", "пн, 4 мар. 2024 г. в 16:02, Store Support <support@example.com>:"),
    ("ru", "apple", "4 марта 2024 г., в 16:02, Store Support <support@example.com> написал(а):"),
    ("ru", "thunderbird", "04.03.2024 16:02, Store Support пишет:"),
    ("ru", "yandex", "04.03.2024, 16:02, \"Store Support\" <support@example.com>:"),
    ("uk", "gmail", "пн, 4 бер. 2024 р. о 16:02 Store Support <support@example.com> пише:"),
    ("uk", "apple", "4 бер. 2024 р. о 16:02 Store Support <support@example.com> написав(ла):"),
    ("uk", "thunderbird", "04.03.2024 16:02, Store Support написав:"),
    ("sv", "gmail", "Den mån 4 mars 2024 kl 16:02 skrev Store Support <support@example.com>:"),
    ("sv", "apple", "4 mars 2024 kl. 16:02 skrev Store Support <support@example.com>:"),
    ("sv", "thunderbird", "Den 2024-03-04 kl. 16:02, skrev Store Support:"),
    ("no", "gmail", "man. 4. mar. 2024 kl. 16:02 skrev Store Support <support@example.com>:"),
    ("no", "apple", "4. mar. 2024 kl. 16:02 skrev Store Support <support@example.com>:"),
    ("no", "thunderbird", "Den 04.03.2024 16:02, skrev Store Support:"),
    ("da", "gmail", "Den man. 4. mar. 2024 kl. 16.02 skrev Store Support <support@example.com>:"),
    ("da", "apple", "Den 4. mar. 2024 kl. 16.02 skrev Store Support <support@example.com>:"),
    ("da", "thunderbird", "Den 04.03.2024 kl. 16.02 skrev Store Support:"),
    ("fi", "gmail", "ma 4. maalisk. 2024 klo 16.02 Store Support (support@example.com) kirjoitti:"),
    ("fi", "apple", "Store Support <support@example.com> kirjoitti 4.3.2024 kello 16.02:"),
    ("fi", "thunderbird", "4.3.2024 klo 16.02 Store Support kirjoitti:"),
    ("zh", "gmail", "Store Support <support@example.com> 于2024年3月4日周一 16:02写道："),
    ("zh", "gmail_tw", "Store Support <support@example.com> 於 2024年3月4日 週一 下午4:02寫道："),
    ("zh", "apple", "在 2024年3月4日，16:02，Store Support <support@example.com> 写道："),
    ("ja", "gmail", "2024年3月4日(月) 16:02 Store Support <support@example.com>:"),
    ("ja", "apple", "2024/03/04 16:02、Store Support <support@example.com>のメール:"),
    ("ja", "thunderbird", "Store Support wrote on 2024/03/04 16:02:"),
]


@pytest.mark.parametrize("lang,client,attribution", ATTRIBUTIONS,
                         ids=[f"{a[0]}-{a[1]}" for a in ATTRIBUTIONS])
@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_attribution(lang: str, client: str, attribution: str, quoted: bool) -> None:
    old = "> Bonjour, hello, hallo.\n> Old message.\n" if quoted else "Old message, not quoted.\n"
    reply = extract_reply(f"Thank you, it works now.\n\n{attribution}\n{old}")
    assert reply.text == "Thank you, it works now."
    assert reply.trimmed.startswith(attribution.split("\n")[0])


@pytest.mark.parametrize("lang,client,attribution", ATTRIBUTIONS,
                         ids=[f"{a[0]}-{a[1]}" for a in ATTRIBUTIONS])
def test_attribution_answered_inline_keeps_the_answers(lang: str, client: str, attribution: str) -> None:
    """The answers and the quotes they answer stay; the attribution above them goes (issue 15)."""
    answers = "> Which model do you have?\n\nThe X200.\n\n> And the colour?\n\nBlack."
    reply = extract_reply(f"{attribution}\n{answers}")
    assert reply.text == answers
    assert reply.trimmed == attribution


# (language, client, the header block the client writes above the quoted original)
HEADER_BLOCKS = [
    ("en", "outlook", "From: Store Support <support@example.com>\nSent: Monday, March 4, 2024 4:02 PM\n"
                      "To: Bob <bob@example.org>\nSubject: RE: Invoice"),
    ("en", "outlook_web", "________________________________\nFrom: Store Support <support@example.com>\n"
                          "Sent: Monday, March 4, 2024 16:02\nTo: Bob <bob@example.org>\nSubject: Invoice"),
    ("en", "outlook_mailto", "From: Store Support [mailto:support@example.com]\nSent: Monday, March 04, 2024 4:02 PM\n"
                             "To: Bob\nCc: Carol\nSubject: RE: Invoice"),
    ("de", "outlook", "Von: Store Support <support@example.com>\nGesendet: Montag, 4. März 2024 16:02\n"
                      "An: Bob <bob@example.org>\nCc: Carol <carol@example.org>\nBetreff: AW: Rechnung"),
    ("fr", "outlook", "De : Store Support <support@example.com>\nEnvoyé : lundi 4 mars 2024 16:02\n"
                      "À : Bob <bob@example.org>\nCc : Carol <carol@example.org>\nObjet : RE: Facture"),
    ("fr", "outlook_web", "De : Store Support <support@example.com>\nEnvoyé : lundi 4 mars 2024 16:02\n"
                          "À : Bob <bob@example.org>\nObjet : RE: Facture"),
    ("es", "outlook", "De: Store Support <support@example.com>\nEnviado: lunes, 4 de marzo de 2024 16:02\n"
                      "Para: Bob <bob@example.org>\nCC: Carol <carol@example.org>\nAsunto: RE: Factura"),
    ("it", "outlook", "Da: Store Support <support@example.com>\nInviato: lunedì 4 marzo 2024 16:02\n"
                      "A: Bob <bob@example.org>\nCc: Carol <carol@example.org>\nOggetto: R: Fattura"),
    ("nl", "outlook", "Van: Store Support <support@example.com>\nVerzonden: maandag 4 maart 2024 16:02\n"
                      "Aan: Bob <bob@example.org>\nCC: Carol <carol@example.org>\nOnderwerp: RE: Factuur"),
    ("pt", "outlook", "De: Store Support <support@example.com>\nEnviado: segunda-feira, 4 de março de 2024 16:02\n"
                      "Para: Bob <bob@example.org>\nCc: Carol <carol@example.org>\nAssunto: RE: Fatura"),
    ("pt", "outlook_br", "De: Store Support <support@example.com>\nEnviada em: segunda-feira, 4 de março de 2024 16:02\n"
                         "Para: Bob <bob@example.org>\nAssunto: RES: Fatura"),
    ("pl", "outlook", "Od: Store Support <support@example.com>\nWysłane: poniedziałek, 4 marca 2024 16:02\n"
                      "Do: Bob <bob@example.org>\nDW: Carol <carol@example.org>\nTemat: RE: Faktura"),
    ("ru", "outlook", "От: Store Support <support@example.com>\nОтправлено: 4 марта 2024 г. 16:02\n"
                      "Кому: Bob <bob@example.org>\nКопия: Carol <carol@example.org>\nТема: RE: Счёт"),
    ("uk", "outlook", "Від: Store Support <support@example.com>\nНадіслано: 4 березня 2024 р. 16:02\n"
                      "Кому: Bob <bob@example.org>\nТема: RE: Рахунок"),
    ("sv", "outlook", "Från: Store Support <support@example.com>\nSkickat: den 4 mars 2024 16:02\n"
                      "Till: Bob <bob@example.org>\nKopia: Carol <carol@example.org>\nÄmne: SV: Faktura"),
    ("no", "outlook", "Fra: Store Support <support@example.com>\nSendt: mandag 4. mars 2024 16:02\n"
                      "Til: Bob <bob@example.org>\nKopi: Carol <carol@example.org>\nEmne: SV: Faktura"),
    ("da", "outlook", "Fra: Store Support <support@example.com>\nSendt: 4. marts 2024 16:02\n"
                      "Til: Bob <bob@example.org>\nCc: Carol <carol@example.org>\nEmne: SV: Faktura"),
    ("fi", "outlook", "Lähettäjä: Store Support <support@example.com>\nLähetetty: maanantai 4. maaliskuuta 2024 16.02\n"
                      "Vastaanottaja: Bob <bob@example.org>\nKopio: Carol <carol@example.org>\nAihe: VS: Lasku"),
    ("zh", "outlook", "发件人: Store Support <support@example.com>\n发送时间: 2024年3月4日 16:02\n"
                      "收件人: Bob <bob@example.org>\n抄送: Carol <carol@example.org>\n主题: 回复: 发票"),
    ("zh", "outlook_tw", "寄件者: Store Support <support@example.com>\n寄件日期: 2024年3月4日 下午 04:02\n"
                         "收件者: Bob <bob@example.org>\n主旨: 回覆: 發票"),
    ("zh", "qq", "------------------ 原始邮件 ------------------\n发件人: \"Store Support\"<support@example.com>;\n"
                 "发送时间: 2024年3月4日(星期一) 下午4:02\n收件人: \"Bob\"<bob@example.org>;\n主题: 发票"),
    ("ja", "outlook", "差出人: Store Support <support@example.com>\n送信日時: 2024年3月4日 16:02\n"
                      "宛先: Bob <bob@example.org>\nCC: Carol <carol@example.org>\n件名: RE: 請求書"),
]


@pytest.mark.parametrize("lang,client,block", HEADER_BLOCKS, ids=[f"{b[0]}-{b[1]}" for b in HEADER_BLOCKS])
def test_outlook_header_block(lang: str, client: str, block: str) -> None:
    reply = extract_reply(f"New text above.\n\nSecond paragraph.\n\n{block}\n\nOld text.\n")
    assert reply.text == "New text above.\n\nSecond paragraph."
    assert reply.trimmed.startswith(block.split("\n")[0])
    assert reply.trimmed.endswith("Old text.")


# (language, separator line as Outlook writes it above its header block)
ORIGINAL_MESSAGE = [
    ("en", "-----Original Message-----"),
    ("de", "-----Ursprüngliche Nachricht-----"),
    ("fr", "-----Message d'origine-----"),
    ("es", "-----Mensaje original-----"),
    ("it", "-----Messaggio originale-----"),
    ("nl", "-----Oorspronkelijk bericht-----"),
    ("pt", "-----Mensagem original-----"),
    ("pl", "-----Oryginalna wiadomość-----"),
    ("ru", "-----Исходное сообщение-----"),
    ("uk", "-----Оригінальне повідомлення-----"),
    ("sv", "-----Ursprungligt meddelande-----"),
    ("no", "-----Opprinnelig melding-----"),
    ("da", "-----Oprindelig meddelelse-----"),
    ("fi", "-----Alkuperäinen viesti-----"),
    ("zh", "-----原始邮件-----"),
    ("ja", "-----元のメッセージ-----"),
]


@pytest.mark.parametrize("lang,separator", ORIGINAL_MESSAGE, ids=[s[0] for s in ORIGINAL_MESSAGE])
def test_original_message_separator(lang: str, separator: str) -> None:
    reply = extract_reply(f"New text.\n\n{separator}\nOld text, no header block.\n")
    assert reply.text == "New text."
    assert reply.trimmed.startswith(separator)


@pytest.mark.parametrize("line", [
    "Von: der Lagerhalle in Hamburg kam nichts.",
    "De : mon côté, tout va bien.",
    "Da: oggi funziona.",
    "Od: jutra będzie lepiej.",
    "От: него ничего не было.",
    "A: yes\nDe: no",
    "Am Montag schrieb ich dir schon: es geht nicht.",
    "Le client a écrit : merci.",
    "W dniu dostawy pisze kierowca:",
])
def test_ordinary_lines_are_not_quote_headers(line: str) -> None:
    text = f"Hallo.\n\n{line}\n\nMehr Text von mir."
    assert extract_reply(text).text == text


# ---------------------------------------------------------------------------------------
# Inline forwards, as each client writes them in each language

FORWARDS = [
    ("en", "gmail", "---------- Forwarded message ---------\nFrom: Lena Lang <lena@example.org>\n"
                    "Date: Mon, Mar 4, 2024 at 4:02 PM\nSubject: Order 1234\nTo: <shop@example.com>"),
    ("de", "gmail", "---------- Weitergeleitete Nachricht ---------\nVon: Lena Lang <lena@example.org>\n"
                    "Date: Mo., 4. März 2024 um 16:02 Uhr\nSubject: Bestellung 1234\nTo: <shop@example.com>"),
    ("fr", "gmail", "---------- Forwarded message ---------\nDe : Lena Lang <lena@example.org>\n"
                    "Date: lun. 4 mars 2024 à 16:02\nSubject: Commande 1234\nTo: <shop@example.com>"),
    ("es", "gmail", "---------- Forwarded message ---------\nDe: Lena Lang <lena@example.org>\n"
                    "Date: lun, 4 mar 2024 a las 16:02\nSubject: Pedido 1234\nTo: <shop@example.com>"),
    ("it", "gmail", "---------- Forwarded message ---------\nDa: Lena Lang <lena@example.org>\n"
                    "Date: lun 4 mar 2024 alle ore 16:02\nSubject: Ordine 1234\nTo: <shop@example.com>"),
    ("nl", "gmail", "---------- Doorgestuurd bericht ---------\nVan: Lena Lang <lena@example.org>\n"
                    "Date: ma 4 mrt 2024 om 16:02\nSubject: Bestelling 1234\nTo: <shop@example.com>"),
    ("pt", "gmail", "---------- Forwarded message ---------\nDe: Lena Lang <lena@example.org>\n"
                    "Date: seg., 4 de mar. de 2024 às 16:02\nSubject: Pedido 1234\nTo: <shop@example.com>"),
    ("ru", "gmail", "---------- Пересылаемое сообщение ---------\nОт: Lena Lang <lena@example.org>\n"
                    "Date: пн, 4 мар. 2024 г. в 16:02\nSubject: Заказ 1234\nTo: <shop@example.com>"),
    ("uk", "gmail", "---------- Пересланий лист ---------\nВід: Lena Lang <lena@example.org>\n"
                    "Date: пн, 4 бер. 2024 р. о 16:02\nSubject: Замовлення 1234\nTo: <shop@example.com>"),
    ("pl", "gmail", "---------- Forwarded message ---------\nOd: Lena Lang <lena@example.org>\n"
                    "Date: pon., 4 mar 2024 o 16:02\nSubject: Zamówienie 1234\nTo: <shop@example.com>"),
    ("sv", "gmail", "---------- Vidarebefordrat meddelande ---------\nFrån: Lena Lang <lena@example.org>\n"
                    "Date: mån 4 mars 2024 kl 16:02\nSubject: Order 1234\nTo: <shop@example.com>"),
    ("fi", "gmail", "---------- Välitetty viesti ---------\nLähettäjä: Lena Lang <lena@example.org>\n"
                    "Date: ma 4. maalisk. 2024 klo 16.02\nSubject: Tilaus 1234\nTo: <shop@example.com>"),
    ("zh", "gmail", "---------- Forwarded message ---------\n发件人： Lena Lang <lena@example.org>\n"
                    "Date: 2024年3月4日周一 16:02\nSubject: 订单 1234\nTo: <shop@example.com>"),
    ("ja", "gmail", "---------- Forwarded message ---------\n差出人: Lena Lang <lena@example.org>\n"
                    "Date: 2024年3月4日(月) 16:02\nSubject: 注文 1234\nTo: <shop@example.com>"),
    ("en", "apple", "Begin forwarded message:\n\nFrom: Lena Lang <lena@example.org>\nSubject: Order 1234\n"
                    "Date: 4 March 2024 at 16:02:00 CET\nTo: shop@example.com"),
    ("de", "apple", "Anfang der weitergeleiteten Nachricht:\n\nVon: Lena Lang <lena@example.org>\n"
                    "Betreff: Bestellung 1234\nDatum: 4. März 2024 um 16:02:00 MEZ\nAn: shop@example.com"),
    ("fr", "apple", "Début du message réexpédié :\n\nDe: Lena Lang <lena@example.org>\nObjet: Commande 1234\n"
                    "Date: 4 mars 2024 à 16:02:00 UTC+1\nÀ: shop@example.com"),
    ("es", "apple", "Inicio del mensaje reenviado:\n\nDe: Lena Lang <lena@example.org>\nAsunto: Pedido 1234\n"
                    "Fecha: 4 de marzo de 2024, 16:02:00 CET\nPara: shop@example.com"),
    ("it", "apple", "Inizio messaggio inoltrato:\n\nDa: Lena Lang <lena@example.org>\nOggetto: Ordine 1234\n"
                    "Data: 4 marzo 2024 16:02:00 CET\nA: shop@example.com"),
    ("nl", "apple", "Begin doorgestuurd bericht:\n\nVan: Lena Lang <lena@example.org>\nOnderwerp: Bestelling 1234\n"
                    "Datum: 4 maart 2024 om 16:02:00 CET\nAan: shop@example.com"),
    ("sv", "apple", "Vidarebefordrat brev:\n\nFrån: Lena Lang <lena@example.org>\nÄmne: Order 1234\n"
                    "Datum: 4 mars 2024 16:02:00 CET\nTill: shop@example.com"),
    ("da", "apple", "Videresendt besked:\n\nFra: Lena Lang <lena@example.org>\nEmne: Ordre 1234\n"
                    "Dato: 4. marts 2024 kl. 16.02.00 CET\nTil: shop@example.com"),
    ("no", "apple", "Videresendt melding:\n\nFra: Lena Lang <lena@example.org>\nEmne: Ordre 1234\n"
                    "Dato: 4. mars 2024 kl. 16:02:00 CET\nTil: shop@example.com"),
    ("pl", "apple", "Początek przekazywanej wiadomości:\n\nOd: Lena Lang <lena@example.org>\n"
                    "Temat: Zamówienie 1234\nData: 4 marca 2024 o 16:02:00 CET\nDo: shop@example.com"),
    ("en", "thunderbird", "-------- Forwarded Message --------\nSubject: \tOrder 1234\n"
                          "Date: \tMon, 4 Mar 2024 16:02:00 +0100\nFrom: \tLena Lang <lena@example.org>\n"
                          "To: \tshop@example.com"),
    ("de", "thunderbird", "-------- Weitergeleitete Nachricht --------\nBetreff: \tBestellung 1234\n"
                          "Datum: \tMon, 4 Mar 2024 16:02:00 +0100\nVon: \tLena Lang <lena@example.org>\n"
                          "An: \tshop@example.com"),
    ("fr", "thunderbird", "-------- Message transféré --------\nSujet : \tCommande 1234\n"
                          "Date : \tMon, 4 Mar 2024 16:02:00 +0100\nDe : \tLena Lang <lena@example.org>\n"
                          "Pour : \tshop@example.com"),
    ("es", "outlook", "-----Mensaje original-----\nDe: Lena Lang <lena@example.org>\n"
                      "Enviado el: lunes, 4 de marzo de 2024 16:02\nPara: shop@example.com\nAsunto: Pedido 1234"),
    ("de", "outlook", "________________________________\nVon: Lena Lang <lena@example.org>\n"
                      "Gesendet: Montag, 4. März 2024 16:02\nAn: shop@example.com\nBetreff: Bestellung 1234"),
    ("fr", "outlook", "________________________________\nDe : Lena Lang <lena@example.org>\n"
                      "Envoyé : lundi 4 mars 2024 16:02\nÀ : shop@example.com\nObjet : Commande 1234"),
    ("ru", "outlook", "-----Original Message-----\nFrom: Lena Lang <lena@example.org>\n"
                      "Sent: Monday, March 4, 2024 4:02 PM\nTo: shop@example.com\nSubject: Заказ 1234"),
    ("zh", "outlook", "发件人: Lena Lang <lena@example.org>\n发送时间: 2024年3月4日 16:02\n"
                      "收件人: shop@example.com\n主题: 订单 1234"),
    ("ja", "outlook", "差出人: Lena Lang <lena@example.org>\n送信日時: 2024年3月4日 16:02\n"
                      "宛先: shop@example.com\n件名: 注文 1234"),
]


@pytest.mark.parametrize("lang,client,marker", FORWARDS, ids=[f"{f[0]}-{f[1]}" for f in FORWARDS])
def test_inline_forward(lang: str, client: str, marker: str) -> None:
    body = (f"Please add Lena to the ticket.\n\nBob\n\n{marker}\n\nHello, my order 1234 has not "
            "arrived.\nLena\n").replace("\n", "\r\n")
    raw = ("From: Bob <bob@store.example.com>\r\nTo: i-1-2-x@support.example.com\r\nSubject: Fwd: 1234\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
           "\r\n" + body).encode("utf-8")
    assert split_forward(parse_message(raw)) == Forward("Please add Lena to the ticket.\n\nBob",
                                                         "lena@example.org")
