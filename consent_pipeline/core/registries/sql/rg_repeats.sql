-- step: rg_repeats
-- kind: table
-- parameters: none
-- A whole delivery holding exactly the files (names and bytes) of an earlier whole one: the earliest such.
WITH whole AS (
    SELECT registry, delivery, whole_files FROM rg_deliveries WHERE damaged_files = 0
), matched AS (
    SELECT a.registry, a.delivery AS earlier, b.delivery AS later, count(*) AS files
    FROM rg_files a JOIN rg_files b
        ON b.registry = a.registry AND b.name = a.name AND b.file_sha256 = a.file_sha256
       AND a.delivery < b.delivery
    GROUP BY a.registry, a.delivery, b.delivery
)
SELECT m.registry, m.later AS delivery, min(m.earlier) AS repeat_of
FROM matched m
JOIN whole e ON e.registry = m.registry AND e.delivery = m.earlier AND e.whole_files = m.files
JOIN whole l ON l.registry = m.registry AND l.delivery = m.later AND l.whole_files = m.files
GROUP BY m.registry, m.later
