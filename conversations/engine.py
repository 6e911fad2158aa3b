"""The conversation engine: per message take the lock, load the state, run one step, save, answer."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations import answers, metrics
from conversations.classify import Rules
from conversations.commands import match_fallback, reask
from conversations.intake import Draft, Intake, Turn, advance, handle_text
from conversations.messages import InboundMessage, Reply
from conversations.staff_flow import StaffFlows
from conversations.storage import StateStorage, StorageKey
from conversations.textcheck import is_meaningless, is_too_long
from dispatch.duty import Duty
from dispatch.policy import Policy
from store.clock import Clock
from store.media import MediaStore
from templates.texts import Texts

log = logging.getLogger(__name__)

# Kept after a draft goes idle, so a late message can still be told its draft expired.
GRACE = 86400


@dataclass(frozen=True)
class IntakeLimits:
    draft_ttl: int = 1800
    duplicate_window: int = 86400
    max_photos: int = 9
    max_photo_bytes: int = 10 * 1024 * 1024
    max_recordings: int = 5
    max_voice_bytes: int = 5 * 1024 * 1024


@dataclass
class Deps:
    texts: Texts
    rules: Rules
    sessions: async_sessionmaker[AsyncSession]
    storage: StateStorage
    media: MediaStore
    clock: Clock
    intake: IntakeLimits
    tz: str = "Asia/Shanghai"
    property: str = "default"
    channels: frozenset[str] = frozenset()   # where messages can be delivered (registered messengers)
    policy: Policy = Policy()                # prices, materials and waits of a ticket's life after 接单
    duty: Duty | None = None                 # who holds the desk (BR-3): they hear of each new ticket


class Engine:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.staff = StaffFlows(deps)  # 报价, 暂停, 改约, 完工: started by a card press (relay/card_actions.py)

    async def handle(self, msg: InboundMessage) -> list[Reply]:
        started = time.perf_counter()
        key = StorageKey(msg.channel, msg.chat, msg.user)
        storage = self.deps.storage
        async with storage.hold(key) as held:
            now = self.deps.clock.now()
            turn = Turn(self.deps, msg, now)
            raw = held.value or {}
            if msg.message_id and raw.get("last_message_id") == msg.message_id:
                # A platform or our inbox delivered this message again: answer as before, step nothing.
                return [Reply(text, tuple(options)) for text, options in raw.get("last_replies", [])]
            if raw.get("staff"):
                # A staff conversation takes every message of its chat until it ends (staff_flow.py).
                await self._staff_step(turn, held, raw)
                metrics.STEPS.labels(channel=msg.channel).inc()
                return turn.replies
            draft = Draft.from_dict(raw) if raw.get("state") else None
            turn.answers = dict(raw.get("answers") or {})
            if draft is not None and self._expired(draft, now):
                turn.say("intake/expired.j2", d=draft, minutes=self.deps.intake.draft_ttl // 60)
                draft = None
            try:
                draft = await self._step(turn, draft)
            except BaseException:
                await turn.db.end(ok=False)
                raise
            await turn.db.end(ok=True)  # the step's database work commits before its state is saved
            last = {"last_message_id": msg.message_id,
                    "last_replies": [[r.text, list(r.options)] for r in turn.replies]} if msg.message_id else {}
            if turn.answers:  # a survey comment or a complaint's text is awaited (conversations/answers.py)
                last["answers"] = turn.answers
            # Written as the lock is released (one round trip on Redis), and only if the step succeeded.
            if draft is None:
                held.unschedule()
                if last:
                    held.put(last, GRACE)  # remembers only the answer (and what it waits for), for a redelivery
                else:
                    held.delete()
            else:
                draft.updated_at = now.isoformat()
                held.put({**draft.to_dict(), **last}, self.deps.intake.draft_ttl + GRACE)
                held.schedule(now + timedelta(seconds=self.deps.intake.draft_ttl))
        metrics.STEPS.labels(channel=msg.channel).inc()
        metrics.STEP_SECONDS.observe(time.perf_counter() - started)
        return turn.replies

    async def _staff_step(self, turn: Turn, held, raw: dict) -> None:
        """One step of the stored staff flow; a draft kept beside it is left as it was."""
        try:
            flow = await self.staff.step(turn, raw["staff"])
        except BaseException:
            await turn.db.end(ok=False)
            raise
        await turn.db.end(ok=True)
        msg = turn.msg
        last = {"last_message_id": msg.message_id,
                "last_replies": [[r.text, list(r.options)] for r in turn.replies]} if msg.message_id else {}
        rest = {k: v for k, v in raw.items() if k not in ("staff", "last_message_id", "last_replies")}
        if flow is not None or rest:
            held.put({**rest, **({"staff": flow} if flow is not None else {}), **last},
                     self.deps.intake.draft_ttl + GRACE)
        elif last:
            held.put(last, GRACE)
        else:
            held.delete()

    def _expired(self, draft: Draft, now: datetime) -> bool:
        if not draft.updated_at:
            return False
        idle = now - datetime.fromisoformat(draft.updated_at)
        return idle >= timedelta(seconds=self.deps.intake.draft_ttl)

    async def _step(self, turn: Turn, draft: Draft | None) -> Draft | None:
        """A photo, unreadable text, a fallback (commands.FALLBACKS), or the intake's step for the state."""
        msg = turn.msg
        if msg.image is not None or msg.image_failed:
            return await self._photo(turn, draft)
        text = msg.text.strip()
        if msg.voice and not text:
            return await self._voice(turn, draft)
        if is_meaningless(text):
            turn.say("intake/not_understood.j2")
            return await reask(turn, draft)
        if is_too_long(text):
            turn.say("intake/too_long.j2")
            return await reask(turn, draft)
        fallback = match_fallback(text)
        pending = answers.waiting(turn)
        if pending and fallback is None:
            return await answers.follow_up(turn, draft, pending)  # the survey's comment, a complaint's text
        if fallback is not None:
            handler, arg = fallback
            if pending and handler.name == "cancel":
                return await answers.cancel_pending(turn, draft, pending)
            if handler.name != "skip":
                turn.answers = {}  # a command ends the wait for a comment or a complaint's text
            return await handler.handle(turn, draft, arg)
        turn.answers = {}
        return await handle_text(turn, draft)

    async def _photo(self, turn: Turn, draft: Draft | None) -> Draft | None:
        """Photos are first-class: stored at once, counted, and the conversation carries on."""
        from dispatch.tickets import save_photo

        limits, msg = self.deps.intake, turn.msg
        if msg.image_failed:
            turn.say("intake/photo_failed.j2")
            return await reask(turn, draft)
        data = msg.image or b""
        if len(data) > limits.max_photo_bytes:
            turn.say("intake/photo_too_big.j2", limit_mb=limits.max_photo_bytes // (1024 * 1024))
            return await reask(turn, draft)
        if draft is not None and len(draft.photo_ids) >= limits.max_photos:
            turn.say("intake/photo_too_many.j2", limit=limits.max_photos)
            return await reask(turn, draft)
        stored = await asyncio.to_thread(self.deps.media.save_image, data)
        if stored is None:
            turn.say("intake/photo_invalid.j2")
            return await reask(turn, draft)
        photo = await save_photo(await turn.db.session(), stored, msg.channel, msg.user, turn.now)
        if draft is None or draft.state is None:
            draft = Draft(started_at=turn.now.isoformat())
        draft.photo_ids.append(photo.id)
        await advance(turn, draft, prefix=turn.text("intake/photo_received.j2", count=len(draft.photo_ids)))
        return draft

    async def _voice(self, turn: Turn, draft: Draft | None) -> Draft | None:
        """A voice note without a transcript: never silence (issue 12). Its recording is kept with the report
        for staff to listen to, and the resident is asked to type what a ticket needs."""
        recording = await self._keep_recording(turn, draft)
        turn.say("intake/voice_unreadable.j2", has_draft=draft is not None, kept=recording is not None)
        if recording is None:
            return await reask(turn, draft)
        if draft is None:
            # The answer asked for place, fault and phone at once: the next text is read as the report itself,
            # and the recording stays with the draft it started.
            return Draft(state=Intake.describing.name, recording_ids=[recording], started_at=turn.now.isoformat())
        draft.recording_ids.append(recording)
        return await reask(turn, draft)

    async def _keep_recording(self, turn: Turn, draft: Draft | None) -> int | None:
        """The stored voice note's id; None when there is nothing to keep (the platform would not hand it
        over, the draft holds enough of them, or the bytes are too large or no recording we know)."""
        from dispatch.tickets import save_photo

        limits, msg = self.deps.intake, turn.msg
        if msg.audio is None:
            return None
        if draft is not None and len(draft.recording_ids) >= limits.max_recordings:
            return None
        stored = await asyncio.to_thread(self.deps.media.save_audio, msg.audio, limits.max_voice_bytes)
        if stored is None:
            log.info("%s voice note of %d bytes (%s) not kept: too large or not a recording", msg.channel,
                     len(msg.audio), msg.audio_format or "format not given")
            return None
        row = await save_photo(await turn.db.session(), stored, msg.channel, msg.user, turn.now, kind="voice")
        return row.id

    async def expire_idle(self) -> list[tuple[StorageKey, list[Reply]]]:
        """Close drafts idle past their TTL; returns the messages to deliver to each resident."""
        now = self.deps.clock.now()
        out: list[tuple[StorageKey, list[Reply]]] = []
        storage = self.deps.storage
        for key in await storage.due(now):
            async with storage.hold(key) as held:
                raw = held.value or {}
                draft = Draft.from_dict(raw) if raw.get("state") else None
                if draft is None:
                    held.unschedule()
                    continue
                if not self._expired(draft, now):  # touched since it was scheduled
                    held.schedule(datetime.fromisoformat(draft.updated_at)
                                  + timedelta(seconds=self.deps.intake.draft_ttl))
                    continue
                if raw.get("staff"):  # a staff flow beside the draft lives on (it has its own clock)
                    held.put({"staff": raw["staff"]}, self.deps.intake.draft_ttl + GRACE)
                else:
                    held.delete()
                held.unschedule()
            metrics.DRAFTS_EXPIRED.inc()
            text = self.deps.texts.render("intake/expired.j2", d=draft, minutes=self.deps.intake.draft_ttl // 60)
            out.append((key, [Reply(text)]))
        return out
