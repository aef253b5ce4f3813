"""One module per scenario family; each scenario returns a ScenarioResult."""
