// Placeholder until the local mode lands (issue 7): explains what is coming and exits cleanly.
console.log('runner-autoscaler local mode is being built: `npm test` runs the suite today.');
