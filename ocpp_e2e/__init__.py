"""ocpp-e2e: end-to-end security for OCPP."""
