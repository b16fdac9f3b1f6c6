"""``kb proposals`` and ``kb approve``: the approval queue for owners working in a shell."""

from __future__ import annotations

import sys

import click

from app.accounts.auth import find_user
from app.editing import proposals, publish
from app.editing.proposals import ProposalError
from app.editing.save import Conflict, EditError


def register(kb: click.Group) -> None:
    @kb.command("proposals")
    @click.option("--all", "show_all", is_flag=True, help="Published and withdrawn ones too.")
    def proposals_command(show_all: bool) -> None:
        """List open proposals: id, status, author, documents, title."""
        for problem in proposals.sync():
            click.echo(problem, err=True)
        for problem in proposals.rules().problems:
            click.echo(problem, err=True)
        statuses = proposals.STATUSES if show_all else proposals.ACTIVE
        for p in proposals.listing(statuses):
            click.echo(f"{p.id}\t{p.status}\t{p.author}\t{' '.join(p.paths)}\t{p.title}")

    @kb.command("approve")
    @click.argument("proposal_id", type=int)
    @click.option("--as", "username", required=True, help="The approving user.")
    def approve_command(proposal_id: int, username: str) -> None:
        """Approve proposal ID as USER; publishes it once it has the approvals it needs."""
        proposals.sync()
        proposal = proposals.get(proposal_id)
        user = find_user(username)
        if proposal is None or user is None:
            raise click.ClickException(f"No {'proposal' if user else 'user'} "
                                       f"{proposal_id if user else username}.")
        try:
            merge = publish.approve(proposal, user, publish.current_tip(proposal))
        except Conflict:
            click.echo(f"Proposal #{proposal_id} conflicts with the main branch; resolve it "
                       f"at /proposals/{proposal_id}/resolve. Nothing was published.", err=True)
            sys.exit(1)
        except (ProposalError, EditError) as exc:
            raise click.ClickException(str(exc)) from None
        if merge:
            click.echo(f"Approved and published proposal #{proposal_id} as {merge[:12]}.")
        else:
            click.echo(f"Approved proposal #{proposal_id}; it needs more approvals.")
