"""Follow-up of a case by its sede after reception: contacts, linkage to a programme, transfer, closure."""
