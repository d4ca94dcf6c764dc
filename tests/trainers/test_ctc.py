"""DeepSpeech2 CTC through ``trainers.run_trial`` on the demo corpus: the CER falls; the CTC
loss takes int64 targets and real lengths (seed 002's two bugs); CER/WER maths."""

from pathlib import Path

import pytest
import torch

from trainers import DataRequest, ListReporter, TrialRequest, run_trial
from trainers.data.transcripts import encode
from trainers.deepspeech2 import PRESETS, BatchRNN, build, count_parameters
from trainers.loop import build_run, validate
from trainers.registry import model_entry
from trainers.tasks import CTCTask, get_task
from trainers.tasks.ctc import ctc_loss, edit_distance, greedy_transcripts

torch.set_num_threads(1)


def demo_request(cache: Path, epochs: int, **hparams: object) -> TrialRequest:
    data = DataRequest(
        kind="demo", sample_rate=8000, segment_seconds=2.0, valid_size=150, cache_dir=str(cache)
    )
    hp = {"batch_size": 16, "lr": 3e-3, **hparams}
    return TrialRequest("deepspeech2", "tiny", hp, data, 800, epochs, device="cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "speech-demo"  # shared with the other speech tests


def test_registry_entry_and_presets() -> None:
    entry = model_entry("deepspeech2")
    assert (entry.task, entry.metric, entry.goal) == ("ctc", "cer", "minimize")
    assert isinstance(get_task(entry.task), CTCTask)
    paper = build(PRESETS["paper"])
    assert paper.features.n_bins == 257  # seed 002's input: 257 spectrogram bins
    assert 40e6 < count_parameters(paper) < 50e6
    assert count_parameters(build(PRESETS["tiny"])) < 300_000


def test_output_lengths_follow_the_real_input_lengths() -> None:
    model = build(PRESETS["tiny"]).eval()
    wav = torch.randn(2, 16000)
    _, lengths = model(wav, torch.tensor([16000, 8000]))
    assert lengths.dtype == torch.int64
    assert lengths[0] == 101 and lengths[1] == 51  # 10 ms frames, halved by the conv stride


def test_recurrent_layers_ignore_frames_past_the_real_length() -> None:
    """Packed with the real lengths, the backward GRU starts at the end of the speech: whatever
    fills the padding cannot leak into the valid frames."""
    rnn = BatchRNN(6, 5, batch_norm=False).eval()
    x = torch.randn(20, 1, 6)
    alone = rnn(x[:12], torch.tensor([12]))
    padded = rnn(torch.cat([x[:12], 100 * torch.randn(8, 1, 6)]), torch.tensor([12]))
    assert torch.allclose(alone, padded[:12], atol=1e-6)
    assert torch.all(padded[12:] == 0)


def test_ctc_loss_accepts_int32_targets_and_uses_real_lengths() -> None:
    log_probs = torch.randn(50, 2, 29).log_softmax(-1)
    targets32 = torch.tensor([encode("abc") + [0, 0], encode("hello")], dtype=torch.int32)
    real = ctc_loss(log_probs, targets32, torch.tensor([50, 30]), torch.tensor([3, 5]))
    assert torch.isfinite(real)
    as_if_padded = ctc_loss(log_probs, targets32, torch.tensor([50, 50]), torch.tensor([5, 5]))
    assert not torch.isclose(real, as_if_padded)  # lengths matter: padding is not scored
    impossible = ctc_loss(log_probs, targets32, torch.tensor([2, 2]), torch.tensor([3, 5]))
    assert float(impossible) == 0.0  # zero_infinity: an impossible alignment is no inf


def test_edit_distance_and_greedy_decoding() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    path = [encode("h")[0], encode("h")[0], 0, encode("i")[0]]
    log_probs = torch.full((4, 1, 29), -10.0)
    log_probs[torch.arange(4), 0, torch.tensor(path)] = 0.0
    assert greedy_transcripts(log_probs, torch.tensor([4])) == ["hi"]
    assert greedy_transcripts(log_probs, torch.tensor([1])) == ["h"]


@pytest.mark.slow
def test_tiny_deepspeech2_lowers_cer_on_the_demo(cache: Path) -> None:
    request = demo_request(cache, epochs=3)
    initial = validate(build_run(request, None))
    reporter = ListReporter()
    outcome = run_trial(request, reporter)
    final = reporter.reports[-1]
    print(
        f"CER: untrained {initial['cer']:.1f}%, after {len(reporter.reports)} epochs {final['cer']:.1f}% "
        f"(WER {initial['wer']:.1f}% -> {final['wer']:.1f}%)"
    )
    assert outcome.status == "completed" and outcome.skipped_batches == 0
    assert {"cer", "wer", "valid_loss"} <= set(final)
    assert final["valid_loss"] < initial["valid_loss"]
    assert final["cer"] <= min(initial["cer"], 100.0) - 20.0
