"""The endpoint's metrics in Prometheus' text format (no client library needed).

Updated from the event loop (requests) and the generation thread (tokens,
time to first token), hence one lock; rendering is a few dozen lines of text.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RATE_WINDOW_S = 10


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: collections.Counter[tuple[str, int]] = collections.Counter()
        self.in_flight = 0
        self.tokens_total = 0
        self.timeouts_total = 0
        self.ttft_counts = [0] * len(TTFT_BUCKETS)
        self.ttft_sum = 0.0
        self.ttft_count = 0
        self._per_second: collections.deque[list[float]] = collections.deque()  # [second, tokens]
        self.queue: Any = None  # the server's admission: queue_depth(), rejected, max_queue

    def request_started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def request_finished(self, route: str, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.requests[(route, status)] += 1

    def count_timeout(self) -> None:
        with self._lock:
            self.timeouts_total += 1

    def observe_ttft(self, seconds: float) -> None:
        with self._lock:
            self.ttft_sum += seconds
            self.ttft_count += 1
            for i, bound in enumerate(TTFT_BUCKETS):
                if seconds <= bound:
                    self.ttft_counts[i] += 1

    def add_tokens(self, n: int) -> None:
        second = float(int(time.time()))
        with self._lock:
            self.tokens_total += n
            if self._per_second and self._per_second[-1][0] == second:
                self._per_second[-1][1] += n
            else:
                self._per_second.append([second, n])
            while self._per_second and self._per_second[0][0] < second - RATE_WINDOW_S:
                self._per_second.popleft()

    def tokens_per_second(self) -> float:
        now = time.time()
        with self._lock:
            recent = sum(n for s, n in self._per_second if s >= now - RATE_WINDOW_S)
        return recent / RATE_WINDOW_S

    def render(self, endpoint: str) -> str:
        label = f'endpoint="{endpoint}"'
        rate = self.tokens_per_second()
        with self._lock:
            lines = [
                "# HELP finetui_requests_total Requests answered, by route and HTTP status.",
                "# TYPE finetui_requests_total counter",
            ]
            for (route, status), n in sorted(self.requests.items()):
                lines.append(f'finetui_requests_total{{{label},route="{route}",status="{status}"}} {n}')
            lines += [
                "# HELP finetui_request_errors_total Requests answered with a 4xx or 5xx status.",
                "# TYPE finetui_request_errors_total counter",
                f"finetui_request_errors_total{{{label}}} {sum(n for (_r, s), n in self.requests.items() if s >= 400)}",
                "# HELP finetui_request_timeouts_total Generations stopped by request_timeout_ms.",
                "# TYPE finetui_request_timeouts_total counter",
                f"finetui_request_timeouts_total{{{label}}} {self.timeouts_total}",
                "# HELP finetui_requests_in_flight Requests being answered now.",
                "# TYPE finetui_requests_in_flight gauge",
                f"finetui_requests_in_flight{{{label}}} {self.in_flight}",
                "# HELP finetui_generated_tokens_total Tokens generated.",
                "# TYPE finetui_generated_tokens_total counter",
                f"finetui_generated_tokens_total{{{label}}} {self.tokens_total}",
                f"# HELP finetui_tokens_per_second Generated tokens per second over the last {RATE_WINDOW_S} s.",
                "# TYPE finetui_tokens_per_second gauge",
                f"finetui_tokens_per_second{{{label}}} {rate:.3f}",
                "# HELP finetui_time_to_first_token_seconds From a request's arrival to its first generated token.",
                "# TYPE finetui_time_to_first_token_seconds histogram",
            ]
            if self.queue is not None:
                lines += [
                    "# HELP finetui_queue_depth Requests waiting for a place in the generating batch.",
                    "# TYPE finetui_queue_depth gauge",
                    f"finetui_queue_depth{{{label}}} {self.queue.queue_depth()}",
                    "# HELP finetui_queue_capacity Requests that may wait before new ones are refused (429).",
                    "# TYPE finetui_queue_capacity gauge",
                    f"finetui_queue_capacity{{{label}}} {self.queue.max_queue}",
                    "# HELP finetui_queue_rejections_total Requests refused with 429 because the queue was full.",
                    "# TYPE finetui_queue_rejections_total counter",
                    f"finetui_queue_rejections_total{{{label}}} {self.queue.rejected}",
                ]
            for bound, n in zip(TTFT_BUCKETS, self.ttft_counts):
                lines.append(f'finetui_time_to_first_token_seconds_bucket{{{label},le="{bound}"}} {n}')
            lines += [
                f'finetui_time_to_first_token_seconds_bucket{{{label},le="+Inf"}} {self.ttft_count}',
                f"finetui_time_to_first_token_seconds_sum{{{label}}} {self.ttft_sum:.6f}",
                f"finetui_time_to_first_token_seconds_count{{{label}}} {self.ttft_count}",
            ]
        return "\n".join(lines) + "\n"
