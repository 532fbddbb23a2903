"""ask() is safe from many threads: 8 threads x 50 questions give the serial run's answers."""

from __future__ import annotations

import random
import threading
from typing import Any

import rag

QUESTIONS = [
    "By how much did Chinese exports to North Korea rise in September?",
    "Who did Pak Myong Ho meet?",
    "What goods did North Korea import from China?",
    "How many Chinese staff arrived in North Korea on March 31?",
    "How many times had Kim visited China by the time of the Beijing trip?",
    "Which town on the border was Kim travelling to?",
    "What was the value of trade between North Korea and China?",
    "Which outlet reported the North Korea-China trade figures?",
    "Who is North Korea's largest trading partner?",
    "What is the marathon called now?",
    "Which cemetery did Ambassador Wang Yajun visit?",
    "Who did Foreign Minister Choe Son Hui meet in China?",
    "What is the capital of France?",
    "How do I bake sourdough bread at home?",
    "Who won the 2022 football World Cup final?",
    "When did Kim Jong Un leave Beijing?",
    "Where did Kim Jong Un's train go?",
    "What did the vice foreign ministers discuss?",
    "Why did trade between China and North Korea grow?",
    "Did North Korea reopen its border to tourists?",
    "북한과 중국의 무역은 얼마나 증가했습니까?",
    "<script>alert(1)</script>",
    "trade",
    "Pyongyang",
    "wigs and eyelashes exports",
] + [f"What do the articles say about {topic}?" for topic in (
    "soybean oil", "the Chinese embassy", "the Korean War", "Sun Weidong", "Wang Yi",
    "customs data", "the Pyongyang marathon", "Dandong", "the Chinese People's Volunteers",
    "flights between Beijing and Pyongyang", "sanctions", "Russia", "the border bridge",
    "tourism", "the anniversary of diplomatic relations", "rice imports", "fertiliser",
    "Chinese workers", "the railway", "the Benzinga report", "the JoongAng Daily report",
    "September figures", "the Speaker article", "state media", "the ambassador",
)]


def _comparable(answer: rag.Answer) -> dict[str, Any]:
    data = answer.to_dict()
    data.pop("timings_ms")
    return data


def test_eight_threads_give_the_serial_answers(default_index_dir):
    assert len(QUESTIONS) == len(set(QUESTIONS)) == 50
    index = str(default_index_dir)  # by path: the threads share the loaded-index cache
    serial = {q: _comparable(rag.ask(q, index=index)) for q in QUESTIONS}
    assert any(not a["abstained"] for a in serial.values())
    assert any(a["abstained"] for a in serial.values())

    results: dict[int, dict[str, dict[str, Any]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        order = QUESTIONS[:]
        random.Random(n).shuffle(order)  # each thread asks in its own order
        mine: dict[str, dict[str, Any]] = {}
        try:
            start.wait()
            for question in order:
                mine[question] = _comparable(rag.ask(question, index=index))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        results[n] = mine

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    for n in range(8):
        assert results[n].keys() == serial.keys()
        for question, answer in results[n].items():
            assert answer == serial[question], f"thread {n} differs on {question!r}"
