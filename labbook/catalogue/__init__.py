"""Labs, instruments and testing services: what the three labs offer."""
