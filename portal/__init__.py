"""The residents' portal: quick pay, the bill, paying, receipts, history, registration,
paperless, autopay and questions about a bill, in English and Spanish."""
