"""Telling people about proposals: an in-app notice, and e-mail when ``KB_SMTP_URL`` is set.

Accounts have user names, not addresses: a name that is an address is used as it is, any
other gets ``@KB_MAIL_DOMAIN``.  Mail is best effort -- a mail server that is down is
logged, never a failed approval.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask import current_app

from app.db import get_db
from app.editing import proposals
from app.editing.proposals import Proposal

log = logging.getLogger(__name__)


def address(username: str) -> str:
    if "@" in username:
        return username
    return f"{username}@{current_app.config['KB_MAIL_DOMAIN']}"


def send(to: list[str], subject: str, text: str) -> bool:
    """Send one message through ``KB_SMTP_URL`` (smtp://host:port); False when not sent."""
    url = current_app.config.get("KB_SMTP_URL") or ""
    if not url or not to:
        return False
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"] = current_app.config["KB_MAIL_FROM"]
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(text)
    try:
        with smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=10) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(parts.username, parts.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send mail to %s", to)
        return False
    return True


def _mail(usernames: list[str], proposal: Proposal, text: str) -> None:
    link = proposal.url
    base = current_app.config.get("KB_BASE_URL") or ""
    send([address(u) for u in usernames], f"[{current_app.config['KB_SITE_NAME']}] {text}",
         f"{text}\n\nProposal #{proposal.id}: {proposal.title}\n{base}{link}\n")


def tell(username: str, proposal: Proposal, text: str) -> None:
    """A notice for one user (the author, mostly), by e-mail too when configured."""
    if not username or username == "git":
        return
    proposals.add_notice(username, proposal.id, text)
    _mail([username], proposal, text)


def approvers(exclude: str = "") -> list[str]:
    rows = get_db().execute("SELECT username FROM users WHERE role IN ('approver', 'admin') "
                            "ORDER BY username")
    return [r[0] for r in rows if r[0].lower() != exclude.lower()]


def tell_approvers(proposal: Proposal, text: str) -> None:
    """E-mail the people who may approve (the badge is their in-app notice)."""
    _mail(approvers(exclude=proposal.author), proposal, text)
