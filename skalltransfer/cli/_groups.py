"""Groups of images for grouped cross-validation (``fit --groups`` and
``--group-pattern``): the images of one group, e.g. one patient, stay in one
fold."""

import csv
import os
import re

import numpy as np

from skalltransfer.cli._common import CommandError, escape

# File names quoted in a message, at most.
_SHOWN = 3


def _some(names):
    """A few ``names`` for a message, and how many more there are."""
    shown = ", ".join(f"'{escape(n)}'" for n in names[:_SHOWN])
    more = len(names) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def add_group_arguments(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--groups",
        metavar="FILE.csv",
        default=None,
        help="grouped cross-validation: a CSV file of two columns, an image's "
        "file name (or its path relative to --target-dir, e.g. "
        "lesion/case001.png) and its group (e.g. the patient); a header row is "
        "allowed. The images of a group stay in one fold (StratifiedGroupKFold), "
        "so several images of one patient do not inflate the estimate",
    )
    group.add_argument(
        "--group-pattern",
        metavar="REGEX",
        default=None,
        help="grouped cross-validation with the group read from each file name: "
        "a regular expression searched in the file name, whose first group (or "
        "whole match) is the group, e.g. '^(patient\\d+)_' for "
        "patient07_scan2.png",
    )


def read_groups(args, paths, target_dir):
    """The group of each image of ``paths`` (an array of str), and a short
    description of where they come from; ``(None, None)`` without
    ``--groups`` or ``--group-pattern``."""
    if args.groups is not None:
        groups = _groups_from_csv(args.groups, paths, target_dir)
        return groups, f"--groups {args.groups}"
    if args.group_pattern is not None:
        groups = _groups_from_pattern(args.group_pattern, paths)
        return groups, f"--group-pattern {args.group_pattern}"
    return None, None


def relative_names(paths, target_dir):
    """Each path relative to ``target_dir`` ("class/file.png"), with ``/``."""
    return [os.path.relpath(p, target_dir).replace(os.sep, "/") for p in paths]


def _groups_from_pattern(pattern, paths):
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise CommandError(
            f"--group-pattern {pattern}: not a valid regular expression ({exc})."
        ) from None
    names = [os.path.basename(p) for p in paths]
    groups, unmatched = [], []
    for name in names:
        match = regex.search(name)
        group = None
        if match is not None:
            group = match.group(1) if regex.groups else match.group(0)
        if not group:
            unmatched.append(name)
        groups.append(group)
    how = (
        "It is searched in each file name (not in the folder names); its first "
        "group, or else the whole match, is the image's group."
    )
    if len(unmatched) == len(names):
        raise CommandError(
            f"--group-pattern {pattern} matches none of the {len(names)} file "
            f"names (e.g. {_some(names[:1])}). {how}"
        )
    if unmatched:
        raise CommandError(
            f"--group-pattern {pattern}: {len(unmatched)} of {len(names)} file "
            f"names give no group ({_some(unmatched)}); every image needs one. "
            f"{how}"
        )
    return np.asarray(groups, dtype=str)


def _read_rows(path):
    if not os.path.isfile(path):
        raise CommandError(f"--groups {path}: no such file.")
    try:
        # utf-8-sig: spreadsheets often start a CSV file with a byte-order
        # mark; surrogateescape keeps file names that are not UTF-8 as
        # os.listdir reads them.
        with open(
            path, newline="", encoding="utf-8-sig", errors="surrogateescape"
        ) as f:
            text = f.read()
    except OSError as exc:
        raise CommandError(
            f"--groups {path}: cannot read it ({exc.strerror or exc})."
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(text.splitlines(keepends=True), dialect))
    except csv.Error as exc:
        raise CommandError(
            f"--groups {path}: not a readable CSV file ({exc})."
        ) from None
    # Row numbers as a spreadsheet shows them; blank rows skipped.
    rows = [(i, [c.strip() for c in row]) for i, row in enumerate(rows, start=1)]
    rows = [(i, row) for i, row in rows if any(row)]
    if not rows:
        raise CommandError(
            f"--groups {path}: the file is empty; write one row per image: its "
            "file name, then its group."
        )
    return rows


def _groups_from_csv(path, paths, target_dir):
    relative = relative_names(paths, target_dir)
    index = {name: i for i, name in enumerate(relative)}
    by_base = {}
    for i, name in enumerate(relative):
        by_base.setdefault(name.rsplit("/", 1)[-1], []).append(i)

    def find(name, row_number):
        """The image ``name`` names, or None."""
        name = os.path.normpath(name).replace(os.sep, "/")
        if name in index:
            return index[name]
        found = by_base.get(name)
        if found is None:
            return None
        if len(found) > 1:
            raise CommandError(
                f"--groups {path}, row {row_number}: '{escape(name)}' is in "
                f"several class folders ({_some([relative[i] for i in found])}); "
                "write its path relative to --target-dir instead."
            )
        return found[0]

    rows = _read_rows(path)
    groups = [None] * len(paths)
    unknown = []
    for k, (number, row) in enumerate(rows):
        cells = list(row)
        while len(cells) > 2 and not cells[-1]:
            cells.pop()
        image = find(cells[0], number) if cells[0] else None
        if image is None and k == 0:
            continue  # a header row
        if len(cells) != 2:
            raise CommandError(
                f"--groups {path}, row {number}: expected two columns (file name, "
                f"group), got {len(cells)}: {', '.join(map(repr, cells))}."
            )
        if image is None:
            unknown.append(cells[0])
            continue
        if not cells[1]:
            raise CommandError(
                f"--groups {path}, row {number}: no group for '{escape(cells[0])}'."
            )
        if groups[image] is not None and groups[image] != cells[1]:
            raise CommandError(
                f"--groups {path}, row {number}: '{escape(relative[image])}' is "
                f"listed twice, in groups '{escape(groups[image])}' and "
                f"'{escape(cells[1])}'; keep one."
            )
        groups[image] = cells[1]
    if unknown:
        raise CommandError(
            f"--groups {path}: {len(unknown)} file name(s) are not images of "
            f"--target-dir ({_some(unknown)}); write each image's file name or its "
            f"path relative to '{escape(target_dir)}', e.g. '{escape(relative[0])}'."
        )
    missing = [relative[i] for i, g in enumerate(groups) if g is None]
    if missing:
        raise CommandError(
            f"--groups {path}: {len(missing)} of {len(paths)} images have no group "
            f"({_some(missing)}); add a row for each: every image needs a group."
        )
    return np.asarray(groups, dtype=str)


def check_group_count(groups, n_splits, where):
    """Raise, naming the fix, when ``groups`` has fewer groups than folds."""
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        fix = (
            f"pass --cv {n_groups} or fewer"
            if n_groups >= 2
            else "grouped cross-validation needs at least 2 groups"
        )
        raise CommandError(
            f"{where}: the images fall into {n_groups} group"
            f"{'s' if n_groups != 1 else ''}, fewer than the {n_splits} "
            f"cross-validation folds, and a group stays in one fold; {fix} "
            "(--cv 0: no cross-validation)."
        )


def make_splitter(n_splits, groups, random_state):
    """Stratified folds, shuffled; grouped (StratifiedGroupKFold) when there
    are ``groups``."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    kind = StratifiedKFold if groups is None else StratifiedGroupKFold
    return kind(n_splits, shuffle=True, random_state=random_state)
