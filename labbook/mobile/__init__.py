"""The instrument's page for a phone, which the QR code on its label opens: today's bookings,
checking in and out, reporting a problem, booking."""
