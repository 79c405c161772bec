"""SYNTHETIC Proxx execution history: seeded, deterministic JobExecutionResult files.

Nothing here comes from a real Proxx installation. This module invents
realistic result files -- in exactly the JSON format Proxx writes (see
``PHASE_1_CONTEXT.md``) -- so that tests, notebooks, the demo and the
benchmarks have a history to work on without any real footage or render farm.

What a generated history contains (approximate rates, per result file):

- both engines (``ffmpeg`` ~55 %, ``resolve`` ~45 %), seven proxy profiles,
  Resolve presets only on Resolve jobs;
- final statuses COMPLETED (~76 %), PARTIAL (~9 %), FAILED (~15 %); clip
  statuses always agree with the final status; never SKIPPED;
- pre-job / validation failures (~5 %) and crash-recovery results (~2 %),
  both with ``clips: []``;
- damaged media (about 1 source file in 256, chosen by a hash of its path):
  it fails in every job that reads it, with the same decode error, so some
  sources fail repeatedly; new jobs that transcode earlier media again
  (~6 %), fingerprinted media or media whose job failed;
- watch-folder metadata (~35 %); fingerprints (~33 %), some shared by several
  jobs that transcoded the same media again; re-runs of a ``job_id`` (about
  2 % of jobs run 2-3 times); timestamps written with a non-UTC offset
  (~4 %); non-ASCII paths (~4 %); clip counts left out (~2 %).

``n_jobs`` counts result *files*: because a few jobs re-run, the number of
distinct ``job_id`` values is slightly smaller (about 98 %).

Determinism: the same arguments give the same dicts and byte-identical files
on any machine and under any ``PYTHONHASHSEED``. Every draw comes from one
``random.Random(seed).random()`` -- the one method whose sequence Python
promises to keep across versions -- and uses only float arithmetic, never
libm functions (``exp``, ``log``...) whose last bit may vary by platform.
Times are integer microseconds; the wall clock is never read.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from .models import is_aware

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_START",
    "SAMPLE_JOBS",
    "SAMPLE_SEED",
    "generate_results",
    "write_results",
    "write_sample_history",
]

#: Seed of the standard sample used by notebooks, the demo and tests.
SAMPLE_SEED: Final[int] = 2026
#: Result files in the standard sample (``write_sample_history``, the demo, ``fabric-nb sample``).
SAMPLE_JOBS: Final[int] = 400
#: First day of a generated history (UTC midnight).
DEFAULT_START: Final[datetime] = datetime(2026, 9, 1, tzinfo=UTC)
#: Length of a generated history in days (six weeks).
DEFAULT_DAYS: Final[int] = 42

_T = TypeVar("_T")
_US: Final = 1_000_000
_MINUTE: Final = 60 * _US
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR

# -- rates (per result unless stated) ----------------------------------------------
_P_RERUN: Final = 0.05  # the slot re-runs a recent job_id instead of starting a new job
_P_RETRANSCODE: Final = 0.06  # a new job transcodes the media of an earlier job again
_P_FINGERPRINT: Final = 0.30  # a new job carries _metadata.fingerprint
_P_WATCH: Final = 0.35  # the job came from a watch folder
_P_WORKER_ID: Final = 0.6  # a watch-folder job names its worker
_P_OTHER_OFFSET: Final = 0.04  # timestamps written with a non-UTC offset
_P_NO_COUNTS: Final = 0.02  # total/completed/failed_clips left out
_P_NIGHT: Final = 0.18  # a job started outside 08:00-20:00 UTC
_P_SLOW: Final = 0.04  # a clip renders slower than real time (network share, thermal)


class _Rand:
    """Random draws built only on ``Random.random()`` and plain arithmetic."""

    __slots__ = ("random",)

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def chance(self, p: float) -> bool:
        return self.random() < p

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def between(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``."""
        return lo + int(self.random() * (hi - lo + 1))

    def pick(self, items: Sequence[_T]) -> _T:
        return items[int(self.random() * len(items))]

    def weighted(self, table: tuple[list[int], Sequence[_T]]) -> _T:
        cumulative, items = table
        return items[bisect.bisect_right(cumulative, self.random() * cumulative[-1])]

    def hex(self, digits: int) -> str:
        return f"{int(self.random() * 16**digits):0{digits}x}"


def _table(*pairs: tuple[_T, int]) -> tuple[list[int], tuple[_T, ...]]:
    """A weighted table for :meth:`_Rand.weighted` from ``(item, weight)`` pairs."""
    cumulative, total = [], 0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return cumulative, tuple(item for item, _ in pairs)


# -- engines, profiles, failures ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    name: str
    engine: str
    preset: str | None  # Resolve render preset; None for ffmpeg
    extension: str
    bytes_per_second: int  # proxy bytes per second of source media
    speed: tuple[float, float]  # render speed, times real time
    codec_args: tuple[str, ...] = ()  # ffmpeg only


_FFMPEG_PROFILES: Final = (
    _Profile(
        "proxy_prores_proxy", "ffmpeg", None, ".mov", 2_200_000, (3.0, 8.0),
        ("-c:v", "prores_ks", "-profile:v", "0", "-vendor", "apl0", "-pix_fmt", "yuv422p10le",
         "-vf", "scale=-2:720", "-c:a", "pcm_s16le"),
    ),
    _Profile(
        "proxy_prores_lt", "ffmpeg", None, ".mov", 3_600_000, (2.5, 6.0),
        ("-c:v", "prores_ks", "-profile:v", "1", "-vendor", "apl0", "-pix_fmt", "yuv422p10le",
         "-vf", "scale=-2:1080", "-c:a", "pcm_s16le"),
    ),
    _Profile(
        "proxy_h264_low", "ffmpeg", None, ".mp4", 600_000, (2.0, 5.0),
        ("-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
         "-vf", "scale=-2:540", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"),
    ),
    _Profile(
        "proxy_dnxhr_lb", "ffmpeg", None, ".mxf", 4_500_000, (3.0, 7.0),
        ("-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p",
         "-vf", "scale=-2:1080", "-c:a", "pcm_s24le"),
    ),
)  # fmt: skip
_RESOLVE_PROFILES: Final = (
    _Profile("proxy_prores_proxy_resolve", "resolve", "ProRes 422 Proxy", ".mov", 2_400_000, (4.0, 10.0)),
    _Profile("proxy_prores_lt_resolve", "resolve", "ProRes 422 LT", ".mov", 3_800_000, (3.0, 8.0)),
    _Profile("proxy_dnxhr_lb_resolve", "resolve", "DNxHR LB", ".mxf", 4_500_000, (3.0, 8.0)),
)  # fmt: skip
_FFMPEG_PROFILE_TABLE: Final = _table(*zip(_FFMPEG_PROFILES, (40, 15, 30, 15), strict=True))
_RESOLVE_PROFILE_TABLE: Final = _table(*zip(_RESOLVE_PROFILES, (50, 25, 25), strict=True))
_RESOLVE_VERSIONS: Final = ("18.6.6", "19.0.3", "19.1.4", "20.0.1")

# (failure_reason, exit_code, how). How a clip failure looks: "early" fails
# within seconds and leaves nothing, "missing" renders to the end but no file
# is there, "partial" stops midway and leaves a truncated file. Resolve clips
# carry the exit code of Proxx's render script: 0, or 1 on failure.
_FFMPEG_FAILURES: Final = _table(
    (("ffmpeg exited with code 1: Invalid data found when processing input", 1, "early"), 30),
    (("Unsupported codec: ARRIRAW", 1, "early"), 8),
    (("Output file missing after render", 0, "missing"), 14),
    (("Disk full while writing output", 1, "partial"), 10),
    (("ffmpeg exited with code 1: Error while decoding stream #0:0: corrupt frame", 1, "partial"), 10),
    (("ffmpeg exited with code 1: Permission denied opening input", 1, "early"), 6),
    (("ffmpeg exited with code 255: Exiting normally, received signal 15", 255, "partial"), 6),
)  # fmt: skip
_RESOLVE_FAILURES: Final = _table(
    (("Resolve render job failed: Media offline", 1, "early"), 30),
    (("Output file missing after render", 0, "missing"), 15),
    (("Disk full while writing output", 1, "partial"), 10),
    (("Resolve render job failed: Unable to decode frame from source clip", 1, "partial"), 10),
    (("Resolve render job failed: Render queue stopped by Resolve", 1, "partial"), 6),
    (("Resolve render job failed: Could not create project (Resolve not responding)", 1, "early"), 6),
)  # fmt: skip

#: What a damaged source file fails with, per engine: the same reason every time.
_DAMAGED_MEDIA: Final = {
    "ffmpeg": (
        "ffmpeg exited with code 1: Error while decoding stream #0:0: corrupt frame",
        1,
        "partial",
    ),
    "resolve": ("Resolve render job failed: Unable to decode frame from source clip", 1, "partial"),
}


def _is_damaged(source: str) -> bool:
    """Whether the media at ``source`` is damaged (about 1 file in 256), by its path alone.

    A damaged file fails in every job that reads it, with the same reason:
    what makes a source fail repeatedly. Decided by a hash, not a draw, so
    the random stream is the same whether or not a file is damaged.
    """
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()[0] == 0


# (validation_stage, engine it applies to or None, message template)
_VALIDATION_ERRORS: Final = (
    ("pre-job", None, "Source file not found: {source}"),
    ("pre-job", None, "Output directory is not writable: {out_dir}"),
    ("validation", None, "JobSpec version 1.3 is not supported (expected 2.x)"),
    ("validation", "ffmpeg", "ffprobe found no video stream in source: {source}"),
    ("validation", "resolve", "Resolve Studio required for preset '{preset}' (detected Resolve {version} Free)"),
    ("validation", "resolve", "DaVinci Resolve is not running or its scripting API is unavailable"),
)  # fmt: skip
_RECOVERY_REASONS: Final = (
    "Process terminated during execution; no result was written",
    "Stale in-progress job found at startup",
    "Worker heartbeat lost; job marked failed by recovery",
)

# -- jobs, schedule, places --------------------------------------------------------

_KINDS: Final = _table(("execution", 93), ("validation", 5), ("recovery", 2))
_OUTCOMES: Final = _table(("COMPLETED", 82), ("PARTIAL", 10), ("FAILED", 8))
_SINGLE_CLIP_OUTCOMES: Final = _table(("COMPLETED", 88), ("FAILED", 12))
_CLIP_COUNTS: Final = _table(
    ((1, 1), 20), ((2, 2), 17), ((3, 3), 14), ((4, 4), 12), ((5, 5), 10), ((6, 6), 8),
    ((7, 7), 6), ((8, 8), 5), ((9, 12), 5), ((13, 24), 3),
)  # fmt: skip
# Seconds of source media per clip.
_MEDIA_SECONDS: Final = _table(((5, 30), 22), ((30, 120), 43), ((120, 600), 29), ((600, 1200), 6))
_WEEKDAY_WEIGHTS: Final = (100, 100, 100, 100, 100, 40, 25)  # Monday first
_OFFSET_MINUTES: Final = (120, 60, -300, -420, 540, 330)  # rare non-UTC writers
_SUFFIXES: Final = {
    m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in (0, *_OFFSET_MINUTES)
}
_JOBSPEC_VERSIONS: Final = _table(("2.1", 85), ("2.0", 15))
_PROJECTS: Final = (
    "HARBOR_S01", "Northern_Lights_Doc", "Brand_Spot_Q3", "MusicVideo_Neon",
    "Feature_Ironwood", "Series_Coastline_E04",
)  # fmt: skip
_SONY_CARDS: Final = ("FX6_A", "FX3_CARD_B", "A7SIII_01", "Untitled", "NO NAME")
# Watch-folder workers and when in the (UTC) day each restarts, in microseconds.
_WORKERS: Final = (
    ("render-node-01", 3 * _HOUR + 17_482_913),
    ("render-node-02", 5 * _HOUR + 31 * _MINUTE + 2_004_117),
    ("render-node-03", 1 * _HOUR + 14 * _MINUTE + 55_730_268),
    ("edit-bay-3.local", 7 * _HOUR + 2 * _MINUTE + 9_118_530),
    ("ingest-mac-mini", 22 * _HOUR + 48 * _MINUTE + 40_061_771),
)
_TAG_CHARS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class _Shoot:
    """Naming facts shared by the clips of one camera card."""

    cam: str
    reel: int
    first_clip: int
    unit: int
    tag: str
    day: int  # shooting day number
    yymmdd: str


def _alexa(s: _Shoot, i: int) -> str:
    name = f"{s.cam}{s.reel:03d}"
    return f"/Volumes/{name}_{s.yymmdd[2:]}{s.tag}/Clip/{name}C{s.first_clip + i:03d}_{s.yymmdd}_R{s.unit}{s.tag}.mov"


def _mxf_share(s: _Shoot, i: int) -> str:
    name = f"{s.cam}{s.reel:03d}"
    return f"/mnt/shoot/day{s.day:02d}/{name}/CLIP/{name}C{s.first_clip + i:03d}_{s.yymmdd}_R{s.unit}{s.tag}.MXF"


def _sony(s: _Shoot, i: int) -> str:
    card = _SONY_CARDS[s.reel % len(_SONY_CARDS)]
    return f"/Volumes/{card}/PRIVATE/M4ROOT/CLIP/C{s.first_clip + i:04d}.MP4"


def _red(s: _Shoot, i: int) -> str:
    clip = f"{s.cam}{s.reel:03d}_C{s.first_clip + i:03d}_{s.yymmdd[2:]}{s.tag}"
    return f"/Volumes/RED_{s.cam}{s.reel:03d}/{clip}.RDC/{clip}_001.R3D"


def _braw(s: _Shoot, i: int) -> str:
    return f"/Volumes/BMPCC_{s.cam}/{s.cam}{s.reel:03d}_{s.yymmdd[2:]}1422_C{s.first_clip + i:03d}.braw"


def _tournage(s: _Shoot, i: int) -> str:
    return f"/Volumes/Tournage_Été/Jour_{s.day:02d}/Caméra_{s.cam}/{s.cam}{s.reel:03d}C{s.first_clip + i:03d}_{s.yymmdd}.mov"


def _satsuei(s: _Shoot, i: int) -> str:
    return f"/Users/montage/撮影_20{s.yymmdd[:2]}/素材/カメラ{s.cam}/C{s.first_clip + i:04d}.MP4"


def _rodaje(s: _Shoot, i: int) -> str:
    return (
        f"/mnt/rodaje/Día_{s.day:02d}/Señal_{s.cam}/{s.cam}{s.reel:03d}C{s.first_clip + i:03d}.MXF"
    )


# (path builder, needs Resolve, proxies always go next to the source), weight
_STYLES: Final = _table(
    ((_alexa, False, False), 28),
    ((_mxf_share, False, False), 20),
    ((_sony, False, False), 25),
    ((_red, True, False), 8),
    ((_braw, True, False), 7),
    ((_tournage, False, True), 2),
    ((_satsuei, False, True), 1),
    ((_rodaje, False, True), 1),
)


@dataclass(slots=True)
class _Job:
    """What stays the same when a job re-runs: its spec and where it runs."""

    job_id: str
    profile: _Profile
    sources: list[str]
    outputs: list[str]
    media_seconds: list[float]
    extensions: list[str]
    needs_resolve: bool
    beside_source: bool  # outputs go to a Proxy/ folder next to the media
    fingerprint: str | None
    project: str
    offset_minutes: int  # UTC offset its timestamps are written with
    jobspec_version: str
    resolve_version: str | None
    watch: bool
    worker: tuple[str, int] | None
    runs: int = 0
    busy_until: int = 0  # microseconds; a re-run starts after this
    last_status: str = ""


class _Clock:
    """Microseconds after the start of the history, as ISO 8601 text.

    Gives the same text as ``datetime.isoformat(timespec="microseconds")``,
    but caches the text up to the minute, because it runs about a million
    times per 100k jobs.
    """

    def __init__(self, start: datetime) -> None:
        start = start.astimezone(UTC)
        self.midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.shift = (start - self.midnight) // timedelta(microseconds=1)
        self.minutes: dict[int, str] = {}
        self.dates: dict[int, str] = {}

    def date(self, day: int) -> str:
        """``YYYY-MM-DD`` of the UTC day ``day`` days after the first one."""
        text = self.dates.get(day)
        if text is None:
            text = self.dates[day] = (self.midnight + timedelta(days=day)).date().isoformat()
        return text

    def iso(self, us: int, offset_minutes: int = 0) -> str:
        minute, micro = divmod(self.shift + us + offset_minutes * _MINUTE, _MINUTE)
        prefix = self.minutes.get(minute)
        if prefix is None:
            moment = self.midnight + timedelta(minutes=minute)
            prefix = self.minutes[minute] = f"{moment:%Y-%m-%dT%H:%M:}"
        return f"{prefix}{micro // _US:02d}.{micro % _US:06d}{_SUFFIXES[offset_minutes]}"


class _Generator:
    """One pass over a history: owns the random stream and the recent jobs."""

    def __init__(self, seed: int, start: datetime, days: int, clips_per_job: int | None) -> None:
        self.r = _Rand(seed)
        self.clock = _Clock(start)
        self.first_weekday = start.astimezone(UTC).weekday()
        self.days = days
        self.clips_per_job = clips_per_job
        self.recent: deque[_Job] = deque(maxlen=64)

    def results(self, n_jobs: int) -> Iterator[dict[str, Any]]:
        r = self.r
        for day, slots in self._schedule(n_jobs):
            date_text = self.clock.date(day).replace("-", "")
            sequence = 0
            for t in slots:
                job = self._rerun_candidate(t)
                if job is None:
                    sequence += 1
                    job = self._new_job(f"job_{date_text}_{sequence:04d}_{r.hex(6)}", day)
                    self.recent.append(job)
                yield self._result(job, t)

    # -- schedule ------------------------------------------------------------------

    def _schedule(self, n_jobs: int) -> Iterator[tuple[int, list[int]]]:
        """Per day: sorted start times (microseconds after ``start``); weekdays are busier."""
        r = self.r
        first = self.first_weekday
        weights = [_WEEKDAY_WEIGHTS[(first + d) % 7] for d in range(self.days)]
        total, cumulative, done = sum(weights), 0, 0
        for day, weight in enumerate(weights):
            cumulative += weight
            count = n_jobs * cumulative // total - done
            done += count
            offset = day * _DAY
            slots = []
            for _ in range(count):
                if r.chance(_P_NIGHT):
                    slots.append(offset + int(r.random() * _DAY))
                else:
                    slots.append(offset + 8 * _HOUR + int(r.random() * 12 * _HOUR))
            slots.sort()
            yield day, slots

    def _rerun_candidate(self, t: int) -> _Job | None:
        r = self.r
        if not self.recent or not r.chance(_P_RERUN):
            return None
        job = r.pick(self.recent)
        if job.runs >= 3 or job.busy_until + 2 * _MINUTE > t:
            return None
        if job.last_status == "COMPLETED" and not r.chance(0.3):
            return None  # operators mostly re-run what went wrong
        return job

    # -- jobs ----------------------------------------------------------------------

    def _new_job(self, job_id: str, day: int) -> _Job:
        r = self.r
        origin = None
        if r.chance(_P_RETRANSCODE):
            # Media seen before: fingerprinted, or queued again after it failed.
            candidates = [
                job
                for job in self.recent
                if job.fingerprint or job.last_status in ("FAILED", "PARTIAL")
            ]
            origin = r.pick(candidates) if candidates else None
        if origin is not None:  # same media again, maybe another engine or profile
            sources, media = origin.sources, origin.media_seconds
            extensions, needs_resolve = origin.extensions, origin.needs_resolve
            fingerprint, beside_source = origin.fingerprint, origin.beside_source
        else:
            builder, needs_resolve, beside_source = r.weighted(_STYLES)
            sources = self._sources(builder, day)
            media = [r.uniform(*r.weighted(_MEDIA_SECONDS)) for _ in sources]
            extensions = sorted({"." + path.rsplit(".", 1)[1].lower() for path in sources})
            fingerprint = None
            if r.chance(_P_FINGERPRINT):
                digest = hashlib.sha256("\n".join(sources).encode("utf-8")).hexdigest()
                fingerprint = f"sha256:{digest}"
        engine = "resolve" if needs_resolve or r.chance(0.35) else "ffmpeg"
        profile = r.weighted(
            _RESOLVE_PROFILE_TABLE if engine == "resolve" else _FFMPEG_PROFILE_TABLE
        )
        project = r.pick(_PROJECTS)
        watch = r.chance(_P_WATCH)
        return _Job(
            job_id=job_id,
            profile=profile,
            sources=sources,
            outputs=self._outputs(sources, profile, project, day, beside_source),
            media_seconds=media,
            extensions=extensions,
            needs_resolve=needs_resolve,
            beside_source=beside_source,
            fingerprint=fingerprint,
            project=project,
            offset_minutes=r.pick(_OFFSET_MINUTES) if r.chance(_P_OTHER_OFFSET) else 0,
            jobspec_version=r.weighted(_JOBSPEC_VERSIONS),
            resolve_version=r.pick(_RESOLVE_VERSIONS) if engine == "resolve" else None,
            watch=watch,
            worker=r.pick(_WORKERS) if watch and r.chance(_P_WORKER_ID) else None,
        )

    def _sources(self, builder: Callable[[_Shoot, int], str], day: int) -> list[str]:
        r = self.r
        n = self.clips_per_job
        if n is None:
            lo, hi = r.weighted(_CLIP_COUNTS)
            n = r.between(lo, hi)
        shoot_day = max(day - r.between(0, 3), 0)
        shoot = _Shoot(
            cam=r.pick("ABC"),
            reel=r.between(1, 40),
            first_clip=r.between(1, 80),
            unit=r.between(1, 4),
            tag=r.pick(_TAG_CHARS) + r.pick(_TAG_CHARS),
            day=shoot_day + 1,
            yymmdd=self.clock.date(shoot_day).replace("-", "")[2:],
        )
        return [builder(shoot, i) for i in range(n)]

    def _outputs(
        self, sources: list[str], profile: _Profile, project: str, day: int, beside_source: bool
    ) -> list[str]:
        r = self.r
        where = 2 if beside_source else r.between(0, 2)
        stems = [path.rsplit("/", 1)[1].rsplit(".", 1)[0] for path in sources]
        ext = profile.extension
        if where == 0:
            folder = f"/Volumes/ProxyRAID/Proxies/{project}/{self.clock.date(day)}"
            return [f"{folder}/{stem}_proxy{ext}" for stem in stems]
        if where == 1:
            return [f"/mnt/proxies/{project}/{profile.name}/{stem}{ext}" for stem in stems]
        return [
            f"{path.rsplit('/', 1)[0]}/Proxy/{stem}{ext}"
            for path, stem in zip(sources, stems, strict=True)
        ]

    # -- one result file -----------------------------------------------------------

    def _result(self, job: _Job, t: int) -> dict[str, Any]:
        r = self.r
        job.runs += 1
        profile = job.profile
        clock, offset = self.clock, job.offset_minutes

        def iso(us: int) -> str:
            return clock.iso(us, offset)

        meta: dict[str, Any] = {
            "jobspec_version": job.jobspec_version,
            "engine_used": profile.engine,
            "proxy_profile_used": profile.name,
            "resolve_preset_used": profile.preset,
            "validation_stage": "execution",
            "validation_error": None,
        }
        if profile.engine == "resolve":
            meta["resolve_edition_detected"] = "studio"
            meta["resolve_version_detected"] = job.resolve_version
        recovery = None
        clips: list[dict[str, Any]] = []
        kind = r.weighted(_KINDS)
        if kind == "execution":
            status, clips, end = self._execute(job, t)
            written = end + r.between(10_000, 500_000)
            completed_at: int | None = written
            failed = [clip["failure_reason"] for clip in clips if clip["status"] == "FAILED"]
            watch_reason = (
                None if not failed else f"{len(failed)} of {len(clips)} clips failed: {failed[0]}"
            )
        elif kind == "validation":
            status = "FAILED"
            stage, error = self._validation_error(job, meta)
            meta["validation_stage"], meta["validation_error"] = stage, error
            completed_at = None if r.chance(0.4) else t + r.between(20_000, 3_000_000)
            written = completed_at or t + r.between(20_000, 3_000_000)
            watch_reason = error
        else:
            status, completed_at = "FAILED", None
            written = t + r.between(2 * _MINUTE, 6 * _HOUR)
            reason = r.pick(_RECOVERY_REASONS)
            folder = (
                f"/Volumes/ProxyRAID/Watch/{job.project}/processing"
                if job.watch
                else "/Users/proxx/Library/Application Support/Proxx/jobs/in_progress"
            )
            recovery = {
                "reason": reason,
                "recovered_at": iso(written),
                "original_path": f"{folder}/{job.job_id}.json",
            }
            watch_reason = reason
        job.busy_until, job.last_status = written, status

        if job.fingerprint is not None:
            meta["fingerprint"] = job.fingerprint
        if job.watch:
            meta["jobspec_path"] = (
                f"/Volumes/ProxyRAID/Watch/{job.project}/incoming/{job.job_id}.json"
            )
            meta["result_written_at"] = iso(written + r.between(1_000, 400_000))
            meta["failure_reason"] = watch_reason
            if job.worker is not None:
                name, phase = job.worker
                meta["worker_id"] = name
                meta["worker_started_at"] = iso(t - (t - phase) % _DAY)  # restarts daily

        result: dict[str, Any] = {
            "job_id": job.job_id,
            "final_status": status,
            "started_at": iso(t),
            "completed_at": None if completed_at is None else iso(completed_at),
            "duration_seconds": None if completed_at is None else (completed_at - t) / _US,
        }
        if not r.chance(_P_NO_COUNTS):
            n_failed = sum(1 for clip in clips if clip["status"] == "FAILED")
            result["total_clips"] = len(clips)
            result["completed_clips"] = len(clips) - n_failed
            result["failed_clips"] = n_failed
        result["source_files"] = list(job.sources)
        result["source_extensions"] = list(job.extensions)
        result["clips"] = clips
        result["_metadata"] = meta
        if recovery is not None:
            result["_recovery"] = recovery
        return result

    def _validation_error(self, job: _Job, meta: dict[str, Any]) -> tuple[str, str]:
        r = self.r
        engine = job.profile.engine
        stage, _, template = r.pick([v for v in _VALIDATION_ERRORS if v[1] in (None, engine)])
        if "1.3" in template:
            meta["jobspec_version"] = "1.3"
        if "Studio" in template:
            meta["resolve_edition_detected"] = "free"
        error = template.format(
            source=r.pick(job.sources),
            out_dir=job.outputs[0].rsplit("/", 1)[0],
            preset=job.profile.preset,
            version=job.resolve_version,
        )
        return stage, error

    def _execute(self, job: _Job, t: int) -> tuple[str, list[dict[str, Any]], int]:
        """Run the clips one after another: final status, clip objects, end time."""
        r = self.r
        profile = job.profile
        n = len(job.sources)
        status = r.weighted(_OUTCOMES if n > 1 else _SINGLE_CLIP_OUTCOMES)
        if status == "COMPLETED":
            failing: set[int] = set()
        elif status == "FAILED":
            failing = set(range(n))
        else:  # PARTIAL: at least one clip completes, at least one fails
            k = 1 if r.chance(0.7) else r.between(1, n - 1)
            order = list(range(n))
            for i in range(k):  # partial Fisher-Yates shuffle
                j = r.between(i, n - 1)
                order[i], order[j] = order[j], order[i]
            failing = set(order[:k])
        damaged = {i for i, source in enumerate(job.sources) if _is_damaged(source)}
        if damaged - failing:  # damaged media fails whatever else happens
            failing |= damaged
            status = "FAILED" if len(failing) == n else "PARTIAL"
        failures = _RESOLVE_FAILURES if profile.engine == "resolve" else _FFMPEG_FAILURES
        shared = r.weighted(failures) if status == "FAILED" else None  # one cause fails them all
        is_ffmpeg = profile.engine == "ffmpeg"
        iso, offset = self.clock.iso, job.offset_minutes
        rnd = r.random  # the loop below runs ~5 times per result: plain calls, no helpers
        slow, fast = profile.speed

        clips = []
        now = t + r.between(300_000, 4_000_000)  # probing and validation
        for i, (source, output) in enumerate(zip(job.sources, job.outputs, strict=True)):
            media = job.media_seconds[i]
            speed = 0.5 + 0.5 * rnd() if rnd() < _P_SLOW else slow + (fast - slow) * rnd()
            render = int((media / speed + 0.5 + 1.5 * rnd()) * _US)  # plus 0.5-2 s overhead
            full = int(profile.bytes_per_second * media * (0.85 + 0.3 * rnd()))
            full = min(max(full, 20_000_000 + int(5_000_000 * rnd())), 2_000_000_000)
            size: int | None = full
            reason, exit_code = None, 0
            exists: bool = True
            if i in failing:
                if i in damaged:
                    reason, exit_code, how = _DAMAGED_MEDIA[profile.engine]
                else:
                    reason, exit_code, how = shared or r.weighted(failures)
                if how == "early":
                    render, exists, size = r.between(300_000, 5_000_000), False, None
                elif how == "missing":
                    exists, size = False, None
                else:
                    done = r.uniform(0.05, 0.95)
                    render, size = int(render * done), int(full * done)
            end = now + render
            clip: dict[str, Any] = {
                "source_path": source,
                "resolved_output_path": output,
                "status": "FAILED" if reason else "COMPLETED",
                "output_exists": exists,
                "output_size_bytes": size,
                "failure_reason": reason,
                "engine_used": profile.engine,
                "proxy_profile_used": profile.name,
                "resolve_preset_used": profile.preset,
                "validation_stage": "execution",
                "exit_code": exit_code,
                "started_at": iso(now, offset),
                "completed_at": iso(end, offset),
                "duration_seconds": render / _US,
            }
            if is_ffmpeg:
                clip["ffmpeg_command"] = [
                    "ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", source,
                    *profile.codec_args, output,
                ]  # fmt: skip
            clips.append(clip)
            now = end + 50_000 + int(1_450_000 * rnd())
        return status, clips, end


def generate_results(
    n_jobs: int,
    *,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    clips_per_job: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``n_jobs`` synthetic JobExecutionResult dicts, in order of ``started_at``.

    Each dict is JSON-ready and is one result file as Proxx would write it.
    Jobs start over ``days`` days from ``start`` (weekdays busier, mostly
    08:00-20:00 UTC). ``clips_per_job=None`` draws a realistic clip count
    (mostly 1-8, up to 24); an int gives every job exactly that many sources,
    so every result that has clips has that many. Generation is lazy: memory
    stays flat however many results are asked for.

    :raises ValueError: ``n_jobs`` < 0, ``days`` < 1, ``clips_per_job`` < 1,
        or ``start`` is a naive datetime.
    """
    if n_jobs < 0:
        raise ValueError(f"n_jobs must be >= 0, got {n_jobs}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if clips_per_job is not None and clips_per_job < 1:
        raise ValueError(f"clips_per_job must be >= 1 or None, got {clips_per_job}")
    if not is_aware(start):
        raise ValueError(f"start must be timezone-aware, got {start.isoformat()}")
    return _Generator(seed, start, days, clips_per_job).results(n_jobs)


def write_results(
    directory: str | os.PathLike[str],
    n_jobs: int,
    *,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    clips_per_job: int | None = None,
) -> list[Path]:
    """Write ``n_jobs`` synthetic result files into ``directory`` and return their paths.

    Files are named ``{job_id}__run{k}.json`` (``k`` counts runs of that
    job_id from 1), so names stay unique when a job re-runs and sorting them
    puts runs of one job in order. The JSON is ``json.dumps(indent=2)``
    encoded as UTF-8 with non-ASCII paths kept as-is; bytes are identical for
    the same arguments on every machine. ``directory`` is created if missing;
    other files in it are left alone, files of the same name are replaced.
    Arguments after ``n_jobs`` are those of :func:`generate_results`.

    :raises ValueError: see :func:`generate_results`.
    :raises OSError: the directory or a file cannot be written.
    """
    results = generate_results(
        n_jobs, seed=seed, start=start, days=days, clips_per_job=clips_per_job
    )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    runs: dict[str, int] = {}
    paths = []
    for result in results:
        job_id = result["job_id"]
        runs[job_id] = runs.get(job_id, 0) + 1
        path = folder / f"{job_id}__run{runs[job_id]}.json"
        path.write_bytes(json.dumps(result, indent=2, ensure_ascii=False).encode("utf-8"))
        paths.append(path)
    return paths


def write_sample_history(
    directory: str | os.PathLike[str], n_jobs: int = SAMPLE_JOBS, seed: int = SAMPLE_SEED
) -> list[Path]:
    """Write the standard small sample (a few hundred jobs over six weeks).

    Sized for notebooks and tests: every feature of the generator appears in
    it, and it is written in well under a second.
    """
    return write_results(directory, n_jobs, seed=seed)
