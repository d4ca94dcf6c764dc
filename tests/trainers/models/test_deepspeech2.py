"""DeepSpeech2 CTC through ``trainers.run_trial`` on the demo corpus: the CER falls; output
lengths follow the real input lengths; presets."""

from pathlib import Path

import pytest
import torch

from trainers import DataRequest, ListReporter, TrialRequest, run_trial
from trainers.loop import build_run, validate
from trainers.models.deepspeech2 import PRESETS, BatchRNN, build, count_parameters
from trainers.registry import model_entry
from trainers.tasks import CTCTask, get_task

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
    assert paper.features.n_bins == 257  # a researcher's DeepSpeech2 log: 257 bins
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
