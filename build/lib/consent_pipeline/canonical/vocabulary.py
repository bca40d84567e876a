"""The pipeline's own vocabularies (not company-specific: the semantics of the canonical model)."""

STATUSES = ("opt_in", "opt_out", "pending")

# How a consent (or opt-out) was given. `express`: written or electronic (a form, a ticked box, a text
# message); `express_verbal`: spoken; `third_party`: captured by a lead vendor; `imported`: no evidence of
# how it was given; `legitimate_interest`: a legacy customer with no flags; `revocation_free_text`: an SMS
# asking to stop in its own words; `expired`: the source ended it; `spam_report`: a complaint;
# `legacy_flag`: a flag in the legacy system.
BASES = (
    "express",
    "express_verbal",
    "third_party",
    "imported",
    "legitimate_interest",
    "revocation_free_text",
    "expired",
    "spam_report",
    "legacy_flag",
)

CONTACT_POINT_TYPES = ("email", "phone", "postal")
CUSTOMER_TYPES = ("customer", "prospect")
ACTIVITY_KINDS = ("purchase", "inquiry", "contract_start", "contract_end", "cancellation")
# Proof that a party controls a contact point, or that it works.
EVIDENCE_KINDS = ("double_opt_in", "account_login", "inbound_message")
UNDELIVERABLE_REASONS = ("bounce", "cleaned", "invalid")
