"""Out-of-office subjects as the responders of many languages write them (Outlook's localized
"Automatic reply:" among them) mark automatic mail; a person's subject that merely starts with
the same words does not."""

from __future__ import annotations

from email.header import Header

import pytest

from parsers.classify import Kind, classify
from parsers.mime import parse_message


def _classify_subject(subject: str):
    encoded = Header(subject, "utf-8").encode()
    raw = (f"From: Ana Silva <ana.silva@example.net>\nTo: r-1-2-abc@gw.test\nSubject: {encoded}\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nI am away.\n").encode()
    return classify(parse_message(raw), "ana.silva@example.net")


@pytest.mark.parametrize("subject", [
    "Automatiskt svar: [#17] Printer",         # Swedish Outlook
    "Frånvaro: [#17] Printer",
    "Automatisk svar: [#17] Printer",          # Danish and Norwegian Outlook
    "Fraværende: [#17] Printer",
    "Automaattinen vastaus: [#17] Printer",    # Finnish
    "Poissa toimistolta: [#17] Printer",
    "Automatyczna odpowiedź: [#17] Printer",   # Polish
    "Odpowiedź automatyczna: [#17] Printer",
    "Automatická odpověď: [#17] Printer",      # Czech
    "Otomatik yanıt: [#17] Printer",           # Turkish
    "Automatikus válasz: [#17] Printer",       # Hungarian
    "Автоматический ответ: [#17] Printer",     # Russian
    "Автоответ: [#17] Printer",
    "Автоматична відповідь: [#17] Printer",    # Ukrainian
    "自動応答: [#17] Printer",                   # Japanese
    "不在通知：[#17] Printer",
    "自动回复: [#17] Printer",                   # Chinese (simplified)
    "自動回覆：[#17] Printer",                   # Chinese (traditional)
])
def test_localized_out_of_office_subjects_are_automatic(subject):
    assert _classify_subject(subject).kind == Kind.AUTO_REPLY


@pytest.mark.parametrize("subject", [
    "Automatisk svar på spørsmålet om levering",   # "an automatic answer to the delivery question"
    "Автоответ не работает",                        # "the auto-reply does not work"
    "Frånvaron av kvitto",
    "自動応答の設定について",                         # "about setting up auto-replies"
])
def test_a_person_writing_about_auto_replies_is_not_one(subject):
    assert _classify_subject(subject).kind == Kind.POST
