// larder through its public API, exactly as a user calls it.
import { openStorage } from "larderdb";
import { larderOpener } from "../lib/larder-api.mjs";

export const open = larderOpener(openStorage);
