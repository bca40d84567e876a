"""What every stage uses: named SQL steps and their files, reference tables from the rules, one transaction
helper, the build state and scope of incremental stages, the Invariant type, the warehouse rewrite and the
clean-up of what an unfinished run left. Imports no domain package."""
