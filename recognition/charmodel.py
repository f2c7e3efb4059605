"""The character model at run time: OpenVINO inference, templates, thresholds, verdicts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from recognition.preprocess import NoInk, Prepared, decode, prepare, split_characters
from recognition.runtime import CompiledModel, ModelLoadError
from recognition.verifier import Decision, Outcome, Scores, Thresholds, combine, decide, top_k

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "char"


@dataclass(frozen=True, slots=True)
class Job:
    """One photo to judge: its bytes and the character or word asked for (empty: classify)."""

    image: bytes
    target: str = ""


@dataclass(frozen=True, slots=True)
class Classification:
    top5: tuple[tuple[str, float], ...]
    incomplete: float


class CharModel:
    """Loads ``model.json``, the IR, charset and templates from a model directory."""

    def __init__(self, model_dir: Path | str = DEFAULT_DIR, *, threads: int | None = None) -> None:
        self.dir = Path(model_dir)
        meta_path = self.dir / "model.json"
        if not meta_path.is_file():
            raise ModelLoadError(f"no character model in {self.dir} (model.json is missing)")
        meta = json.loads(meta_path.read_text("utf-8"))
        self.size = int(meta["input_size"])
        self.charset = (self.dir / meta["charset"]).read_text("utf-8").strip()
        self.templates = np.load(self.dir / meta["templates"]).astype(np.float32)
        self.thresholds = Thresholds(**meta["thresholds"])
        self.engine = CompiledModel(self.dir / meta["ir"], threads=threads)
        # The classes are the charset plus "unknown": a mismatch means the wrong files.
        self.engine.check_charset(len(self.charset), reserved=1, output="probs")
        if self.templates.shape[0] != len(self.charset):
            raise ModelLoadError(
                f"{len(self.templates)} templates for {len(self.charset)} characters"
            )
        self.labels = (*self.charset, "unknown")

    def scores(self, images: Sequence[npt.NDArray[np.float32]]) -> list[Scores]:
        """Model outputs for prepared character images (size x size, ink in [0, 1])."""
        if not images:
            return []
        batch = np.stack(images).astype(np.float32)[..., None]
        out = self.engine.infer(batch)
        probs, emb, inc = out["probs"], out["embedding"], out["incomplete"]
        return [
            Scores(probs[i].astype(np.float32), emb[i].astype(np.float32), float(inc[i, 0]))
            for i in range(len(images))
        ]

    def _pieces(self, job: Job) -> tuple[list[npt.NDArray[np.float32]], Decision | None]:
        """The character images of one job, or the decision that ends it early."""
        th = self.thresholds
        target = job.target
        if target and any(c not in self.charset for c in target):
            return [], Decision(Outcome.INVALID_TARGET, reason="target not in the character set")
        try:
            gray = decode(job.image)
            if len(target) > 1:
                return split_characters(gray, len(target), self.size), None
            prepared: Prepared = prepare(gray, self.size)
        except NoInk:
            return [], Decision(Outcome.UNCLEAR, reason="no ink")
        except (OSError, ValueError, SyntaxError):
            return [], Decision(Outcome.UNCLEAR, reason="not a readable image")
        if prepared.ink_side < th.min_ink_side:
            return [], Decision(Outcome.UNCLEAR, reason="too small")
        if target and prepared.aspect > th.max_aspect:
            return [], Decision(Outcome.UNCLEAR, reason="several characters")
        return [prepared.image], None

    def judge(self, jobs: Sequence[Job]) -> list[Decision]:
        """Verdicts for many photos with one inference over all their characters."""
        pieces: list[list[npt.NDArray[np.float32]]] = []
        early: list[Decision | None] = []
        for job in jobs:
            imgs, decision = self._pieces(job)
            pieces.append(imgs)
            early.append(decision)
        flat = [img for imgs in pieces for img in imgs]
        scores = iter(self.scores(flat))
        results: list[Decision] = []
        for job, imgs, decision in zip(jobs, pieces, early, strict=True):
            these = [next(scores) for _ in imgs]
            if decision is not None:
                results.append(decision)
            elif not job.target:
                s = these[0]
                best = int(np.argmax(s.probs))
                results.append(
                    Decision(
                        Outcome.CORRECT if best < len(self.charset) else Outcome.UNCLEAR,
                        self.labels[best],
                        float(s.probs[best]),
                        incomplete_score=s.incomplete,
                        top5=top_k(s.probs, self.labels),
                    )
                )
            else:
                per_char = [
                    decide(s, ch, self.charset, self.templates, self.thresholds)
                    for s, ch in zip(these, job.target, strict=True)
                ]
                results.append(combine(per_char, job.target))
        return results

    def classify(self, image: npt.NDArray[np.float32]) -> Classification:
        s = self.scores([image])[0]
        return Classification(top_k(s.probs, self.labels), s.incomplete)
