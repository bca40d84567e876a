-- step: rg_new_pairs
-- kind: statement
-- parameters: none
-- Numbers of each baseline that a candidate no longer lists, for the pairs not counted yet.
INSERT INTO rg_pairs
WITH need AS (
    SELECT DISTINCT b.registry, b.baseline, b.delivery AS candidate FROM rg_baseline b
    WHERE b.baseline IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM rg_pairs p
        WHERE p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery)
), gone AS (
    SELECT n.registry, n.baseline, n.candidate, l.contact_point
    FROM need n JOIN registry_listings l ON l.registry = n.registry AND l.delivery = n.baseline
    EXCEPT
    SELECT n.registry, n.baseline, n.candidate, l.contact_point
    FROM need n JOIN registry_listings l ON l.registry = n.registry AND l.delivery = n.candidate
)
SELECT n.registry, n.baseline, n.candidate, count(g.contact_point) AS unlisted
FROM need n
LEFT JOIN gone g ON g.registry = n.registry AND g.baseline = n.baseline AND g.candidate = n.candidate
GROUP BY n.registry, n.baseline, n.candidate
