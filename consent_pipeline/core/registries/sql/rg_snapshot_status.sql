-- step: rg_snapshot_status
-- kind: table
-- parameters: share (number), share_text (text)
WITH in_force AS (
    SELECT registry, max(delivery) AS delivery FROM rg_applied WHERE applied GROUP BY registry
), st AS (
    SELECT d.registry, r.region, d.delivery, d.received_ts, d.whole_files + d.damaged_files AS files,
           d.damaged_files, d.problem, d.listed, rp.repeat_of, b.baseline, bd.listed AS baseline_listed,
           p.unlisted, coalesce(b.confirmed, false) AS confirmed,
           CASE WHEN d.damaged_files > 0 THEN 'damaged'
                WHEN rp.repeat_of IS NOT NULL THEN 'repeat'
                WHEN NOT a.applied THEN 'held'
                WHEN b.baseline IS NULL THEN 'first'
                WHEN b.confirmed AND p.unlisted > {share} * bd.listed THEN 'confirmed'
                ELSE 'applied' END AS status,
           d.delivery = f.delivery AS in_force,
           f.delivery IS NULL OR d.delivery > f.delivery AS after_in_force
    FROM rg_deliveries d
    JOIN ref_registries r ON r.registry = d.registry
    LEFT JOIN rg_repeats rp ON rp.registry = d.registry AND rp.delivery = d.delivery
    LEFT JOIN rg_applied a ON a.registry = d.registry AND a.delivery = d.delivery
    LEFT JOIN rg_baseline b ON b.registry = d.registry AND b.delivery = d.delivery
    LEFT JOIN rg_pairs p ON p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery
    LEFT JOIN rg_deliveries bd ON bd.registry = b.registry AND bd.delivery = b.baseline
    LEFT JOIN in_force f ON f.registry = d.registry
)
SELECT registry, region, delivery, received_ts, files, damaged_files, listed, repeat_of, baseline,
       baseline_listed, unlisted, status, coalesce(in_force, false) AS in_force,
       -- newer than the snapshot in force and not applied: what the operator is told about
       status IN ('damaged', 'repeat', 'held') AND after_in_force AS pending,
       CASE status
           WHEN 'damaged' THEN CAST(damaged_files AS VARCHAR) || ' of ' || CAST(files AS VARCHAR)
                || ' files not read whole (' || problem || '): the snapshot in force stays, with its freshness'
           WHEN 'repeat' THEN 'the same files as ' || repeat_of || ': refreshes nothing'
           WHEN 'held' THEN 'would un-list ' || CAST(unlisted AS VARCHAR) || ' of the '
                || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline
                || ' (more than the share ' || {share_text} || '): awaiting confirmation'
           WHEN 'confirmed' THEN 'un-lists ' || CAST(unlisted AS VARCHAR) || ' of the '
                || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline || ': confirmed by an operator'
           WHEN 'first' THEN 'the registry''s first snapshot'
           ELSE 'un-lists ' || CAST(coalesce(unlisted, 0) AS VARCHAR) || ' of the '
                || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline
       END AS detail
FROM st
