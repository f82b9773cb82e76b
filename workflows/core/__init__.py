"""The pure case core: state, actions, stages and policy. No temporalio, no clock, no I/O."""
