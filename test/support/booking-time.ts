/** A booking's time within START_EARLY_MINUTES of now, so the provider may start the work at once. */
export const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();
