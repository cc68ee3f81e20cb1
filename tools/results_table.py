"""Summarise finished runs as the papers' tables, methods side by side.

    python tools/results_table.py WORK_ROOT [WORK_ROOT ...] [--paper]
                                  [--markdown FILE] [--csv FILE] [--plot DIR] [--overwrite]

Every complete test record under the roots counts, whatever folder holds it
(a work dir may hold tests of several checkpoints): what a run is (method,
protocol, dataset, shots, seed, and the experiment: its config and what the run
changed in it) is read from the record its test wrote into test_metrics.json; a
test of a checkpoint records the run that wrote the checkpoint. Variants of one
method (other configs, --cfg-options) get rows or columns of their own, named by
the variant; two results of one run are reported, and the newest counts; every
record left out (unfinished, stopped, written by an earlier version) is named on
stderr with the reason. Base-to-novel runs give Base / Novel / HM per dataset
for each method (means over seeds +- std) and each method's Average row (HM of
the mean Base and mean Novel); few-shot runs a dataset x shots table per
method; other runs (cross-dataset, domain generalisation) their accuracy per
test set, one row per method. --paper adds the published numbers (zero-shot
CLIP, CoOp, CoCoOp, MaPLe, and the ablations' average HM). --plot DIR draws
the same numbers as figures (PNG and SVG): base2novel (Base / Novel bars, HM
marked, published numbers as marks with --paper), few_shot (top-1 against
shots per method) and curves/<run> (each run's loss, lr and test accuracies).
"""
import argparse
import csv
import io
import os
import sys
from typing import List

from _cli import errors, package_module, run_cli

# Plain modules of maple_mm (no torch): --help answers at once.
tables_module = package_module('evaluation.benchmark_tables')
Cell, Table, benchmark_tables = tables_module.Cell, tables_module.Table, \
    tables_module.benchmark_tables
collect_runs = package_module('evaluation.run_metrics').collect_runs
SeedStatistics = package_module('evaluation.seed_statistics').SeedStatistics


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'roots',
        nargs='+',
        help='folders holding runs at any depth (work '
        'roots as given to run_sweep.py, or single runs)')
    parser.add_argument(
        '--paper', action='store_true', help='add the published numbers next to these runs')
    parser.add_argument('--markdown', help='also write the Markdown tables to this file')
    parser.add_argument(
        '--csv',
        help='write every number as CSV rows (table, row, column, '
        'value, std, num_seeds) to this file')
    parser.add_argument(
        '--plot', metavar='DIR', help='also draw the results as figures (PNG and SVG) into DIR')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing --markdown / --csv files and figures')
    return parser.parse_args(argv)


def format_cell(cell: Cell) -> str:
    """Two decimals; seed statistics as 'mean ± std'; '-' for a missing value."""
    if cell is None:
        return '-'
    if isinstance(cell, SeedStatistics):
        return f'{cell.mean:.2f} ± {cell.std:.2f}'
    if isinstance(cell, float):
        return f'{round(cell, 2) + 0.0:.2f}'  # + 0.0: no '-0.00'
    return str(cell)


def to_markdown(tables: List[Table]) -> str:
    """All tables as Markdown, each under a bold title and followed by its notes."""
    parts = []
    for table in tables:
        lines = [
            f'**{table.title}**', '', '| ' + ' | '.join(table.header) + ' |',
            '|' + '|'.join('---' for _ in table.header) + '|'
        ]
        lines += ['| ' + ' | '.join(format_cell(c) for c in row) + ' |' for row in table.rows]
        lines += ['', *table.notes] if table.notes else []
        parts.append('\n'.join(lines))
    return '\n\n'.join(parts) + '\n'


def to_csv(tables: List[Table]) -> str:
    """One CSV row per number: table, row, column, value, std, num_seeds (full precision)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(['table', 'row', 'column', 'value', 'std', 'num_seeds'])
    for table in tables:
        for row in table.rows:
            for column, cell in zip(table.header[1:], row[1:]):
                if isinstance(cell, SeedStatistics):
                    writer.writerow(
                        [table.title, row[0], column, cell.mean, cell.std, cell.num_seeds])
                elif isinstance(cell, (int, float)) and column != 'Seeds':
                    writer.writerow([table.title, row[0], column, cell, '', ''])
    return out.getvalue()


def check_new(path: str, overwrite: bool) -> None:
    """An existing output file is replaced only with --overwrite."""
    if os.path.exists(path) and not overwrite:
        raise errors.MapleUserError(f'{path} already exists; pass --overwrite to replace it or '
                                    'choose another file.')


def main(argv=None) -> None:
    args = parse_args(argv)
    found = collect_runs(args.roots)
    for note in found.notes():
        print(note, file=sys.stderr)
    runs = found.runs
    if not runs:
        raise errors.MapleUserError(
            f'No finished runs (<run>/<time>/test_metrics.json with a record) '
            f'under {", ".join(args.roots)}.')
    outputs = [p for p in (args.markdown, args.csv) if p]
    for path in outputs:
        check_new(path, args.overwrite)
    tables = benchmark_tables(runs, paper=args.paper)
    markdown = to_markdown(tables)
    print(markdown, end='')
    if args.markdown:
        with open(args.markdown, 'w', encoding='utf-8') as f:
            f.write(markdown)
    if args.csv:
        with open(args.csv, 'w', encoding='utf-8') as f:
            f.write(to_csv(tables))
    if args.plot:
        from maple_mm.evaluation.figures import plot_results
        written = plot_results(runs, args.plot, paper=args.paper, overwrite=args.overwrite)
        print(f'\nFigures: {len(written)} files in {args.plot}', file=sys.stderr)


if __name__ == '__main__':
    run_cli(main)
