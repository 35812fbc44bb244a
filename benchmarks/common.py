"""What every benchmark command shares: repeated runs, medians, the JSON."""
import json
import os
import statistics
from typing import Callable, Dict, List, Sequence


def repeat(runs: int, measure: Callable[[], Dict],
           shown: Sequence[str]) -> List[Dict]:
    """Calls measure() `runs` times, printing the `shown` figures of each."""
    results = []
    for index in range(runs):
        print(f"run {index + 1}/{runs} ...", flush=True)
        results.append(measure())
        print(json.dumps({key: results[-1][key] for key in shown
                          if key in results[-1]}),
              flush=True)
    return results


def medians(dicts: List[Dict[str, float]]) -> Dict[str, float]:
    """Key-wise medians of dicts with the same numeric keys."""
    return {name: round(statistics.median(d[name] for d in dicts), 4)
            for name in dicts[0]}


def write_report(path: str, report: Dict) -> None:
    """The benchmark's JSON, with sorted keys so diffs stay readable."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(f"wrote {path}")


def read_json(path: str) -> Dict:
    """A benchmark's JSON result."""
    with open(path) as handle:
        return json.load(handle)


def print_json(result: Dict, out: str = "") -> None:
    """A script's figures as JSON on stdout, and in file `out` if given
    (what pipeline_benchmark.py reads back)."""
    text = json.dumps(result, indent=2, sort_keys=True)
    if out:
        with open(out, "w") as handle:
            handle.write(text + "\n")
    print(text)
