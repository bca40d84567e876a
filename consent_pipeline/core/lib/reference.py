"""The company's rules as small reference tables the SQL stages join against (ref_*)."""

from __future__ import annotations

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.config.rules import BASES as _BASES
from consent_pipeline.core.lib.sql import text, values_table


def load_reference(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    values_table(con, "ref_regions", ["country", "region"], list(rules.region_of_country.items()))
    values_table(con, "ref_brands", ["brand"], [(b,) for b in rules.brands])
    values_table(
        con,
        "ref_channels",
        ["channel", "contact_point_type"],
        [(c, t) for c, t in rules.channel_type.items()],
    )
    # purpose node -> leaf it covers (a leaf covers itself; `*` covers every leaf)
    nodes = [*rules.purposes, "*"]
    values_table(
        con,
        "ref_purposes",
        ["node", "leaf", "kind"],
        [(n, leaf, rules.company.purposes[leaf].kind) for n in nodes for leaf in rules.purpose_leaves(n)],
    )
    values_table(
        con,
        "ref_source_priority",
        ["source", "priority"],
        [(s, f"{i:04d}") for s, i in rules.source_priority.items()],  # text: sorts like the list
    )
    values_table(con, "ref_fallback", ["region"], [(rules.fallback_region,)])
    _templates(con, rules)
    _registries(con, rules)
    _segments(con, rules)


def required_purposes(rules: Rules) -> str:
    """The purposes no opt-out can stop (transactional, opt-out not allowed: service.billing), as a SQL list
    of literals for `IN (...)` (`NULL` when there are none): permissions, suppression and the audit read it."""
    required = [p for p, d in rules.company.purposes.items() if d.kind == "transactional" and not d.opt_out_allowed]
    return ", ".join(text(p) for p in required) or "NULL"


def persist_rules_tables(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """The purpose catalogue as a warehouse table, for auditors and the data checks."""
    values_table(
        con,
        "tmp_rules_purposes",
        {"purpose": "VARCHAR", "kind": "VARCHAR", "opt_out_allowed": "BOOLEAN"},
        [(p, d.kind, d.opt_out_allowed) for p, d in rules.company.purposes.items()],
    )
    con.execute("CREATE OR REPLACE TABLE rules_purposes AS SELECT * FROM tmp_rules_purposes ORDER BY purpose")


def _templates(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """ref_cells: one row per region x override country ('' = none) x template column x marketing purpose,
    with the flags of the cell after country and purpose overrides."""
    t = rules.templates
    marketing = [p for p in rules.leaf_purposes if rules.company.purposes[p].kind == "marketing"]
    columns = sorted(set(t.columns.values()))
    rows: list[tuple[object, ...]] = []  # ref_cells rows, in the order of `cols` below
    for region, cells in t.regions.items():
        countries = [""] + [c for c in t.country_overrides if rules.region_of_country.get(c) == region]
        for country in countries:
            for column in columns:
                for purpose in marketing:
                    cell = cells[column]
                    accepts, written, doi, law = (
                        list(cell.accepts),
                        cell.written_only,
                        cell.double_opt_in,
                        cell.law,
                    )
                    for override in (
                        t.country_overrides.get(country, {}).get(column),
                        t.purpose_overrides.get(purpose),
                    ):
                        if override is None:
                            continue
                        accepts = override.accepts if override.accepts is not None else accepts
                        written = override.written_only if override.written_only is not None else written
                        doi = override.double_opt_in if override.double_opt_in is not None else doi
                        law = f"{law}; {override.law}"
                    if purpose in t.soft_opt_in.excluded_purposes:
                        accepts = [a for a in accepts if a != "soft_opt_in"]
                    rows.append(
                        (
                            region,
                            country,
                            column,
                            purpose,
                            written,
                            doi,
                            law,
                            *[b in accepts for b in _BASES],
                        )
                    )
    cols = {
        "region": "VARCHAR",
        "country": "VARCHAR",
        "template_column": "VARCHAR",
        "purpose": "VARCHAR",
        "written_only": "BOOLEAN",
        "double_opt_in": "BOOLEAN",
        "law": "VARCHAR",
        **{f"accepts_{b}": "BOOLEAN" for b in _BASES},
    }
    values_table(con, "ref_cells", cols, rows)
    values_table(con, "ref_columns", ["channel", "template_column"], list(t.columns.items()))
    values_table(con, "ref_override_countries", ["country"], [(c,) for c in t.country_overrides])


def _segments(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """ref_segment_rules: one row of the segment thresholds (policies.yaml `segments`)."""
    seg = rules.policies.segments
    values_table(
        con,
        "ref_segment_rules",
        {name: "INTEGER" for name in ("window_days", "frequent_min", "lapsed_1", "lapsed_2", "lapsed_3")},
        [(seg.window_days, seg.frequent_min_purchases, *seg.lapsed_days)],
    )


def _registries(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    t = rules.templates.registries
    values_table(
        con,
        "ref_registries",
        {"registry": "VARCHAR", "region": "VARCHAR", "max_age_days": "INTEGER", "required": "BOOLEAN"},
        [(name, p.region, p.max_age_days, p.required) for name, p in rules.policies.registries.items()],
    )
    values_table(
        con,
        "ref_registry_channels",
        ["region", "channel"],
        [(r, ch) for r, chans in t.channels.items() for ch in chans],
    )
    values_table(
        con,
        "ref_relationship_exemption",
        {"region": "VARCHAR", "purchase_months": "INTEGER", "inquiry_months": "INTEGER"},
        [(r, e.purchase_months, e.inquiry_months) for r, e in t.relationship_exemption.items()],
    )
    values_table(
        con,
        "ref_express_lapse",
        {"region": "VARCHAR", "months": "INTEGER"},
        [(r, x.months) for r, x in t.express_without_period_months.items()],
    )
