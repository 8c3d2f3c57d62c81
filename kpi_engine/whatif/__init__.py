"""What-if scenarios and Monte Carlo simulation on top of a snapshot, and the frames the What-if page shows."""
