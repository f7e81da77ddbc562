// The pet store page: lists pets (with paging and a species filter), creates
// pets with an API key (showing validation errors next to their fields, from
// the google.rpc.BadRequest detail), and shows a live feed from WatchPets —
// over gRPC-Web by default, or the Connect protocol with one switch.
//
// The API is this page's own origin, or ?api=http://host:port for a server
// on another origin (which must allow this origin through CORS).

import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

import { BadRequestSchema } from "./gen/google/rpc/error_details_pb";
import {
  EventType,
  PetSchema,
  PetStatus,
  PetStoreService,
  Species,
  type Pet,
} from "./gen/petstore/v1/petstore_pb";

const PAGE_SIZE = 5;
const apiBase = new URLSearchParams(location.search).get("api") ?? location.origin;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let client: Client<typeof PetStoreService>;
let watchAbort: AbortController | undefined;
const pageTokens: string[] = [""]; // token of each page seen, for "previous"
let page = 0;

function transport(kind: string): Transport {
  const opts = { baseUrl: apiBase };
  return kind === "connect" ? createConnectTransport(opts) : createGrpcWebTransport(opts);
}

function connectTo(kind: string) {
  client = createClient(PetStoreService, transport(kind));
  $("transport-name").textContent = kind === "connect" ? "Connect" : "gRPC-Web";
  page = 0;
  pageTokens.length = 1;
  void loadPage();
  startWatch();
}

function say(text: string, isError = false) {
  const el = $("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

// describe renders an error as "[code] message", the code as on the wire
// ("[invalid_argument] pet.name: must be set").
function describe(err: unknown): string {
  return ConnectError.from(err).message;
}

function speciesName(s: Species): string {
  return Species[s].replace("SPECIES_", "").toLowerCase();
}

function statusName(s: PetStatus): string {
  return PetStatus[s].replace("PET_STATUS_", "").toLowerCase();
}

async function loadPage() {
  const species = Number(($("species-filter") as HTMLSelectElement).value) as Species;
  try {
    const res = await client.listPets({ pageSize: PAGE_SIZE, pageToken: pageTokens[page], species });
    const rows = $("pets").querySelector("tbody")!;
    rows.replaceChildren(...res.pets.map(petRow));
    $("empty").hidden = res.pets.length > 0;
    pageTokens[page + 1] = res.nextPageToken;
    ($("next") as HTMLButtonElement).disabled = res.nextPageToken === "";
    ($("prev") as HTMLButtonElement).disabled = page === 0;
    $("page").textContent = `page ${page + 1}`;
  } catch (err) {
    say(`Could not list pets — ${describe(err)}`, true);
  }
}

function petRow(p: Pet): HTMLTableRowElement {
  const tr = document.createElement("tr");
  tr.dataset.id = String(p.id);
  for (const text of [String(p.id), p.name, speciesName(p.species), String(p.ageYears), p.tags.join(", "), statusName(p.status)]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function clearFieldErrors() {
  for (const el of document.querySelectorAll<HTMLElement>("[data-error-for]")) {
    el.textContent = "";
  }
}

async function createPet(ev: SubmitEvent) {
  ev.preventDefault();
  clearFieldErrors();
  const key = ($("key") as HTMLInputElement).value.trim();
  sessionStorage.setItem("switchboard-api-key", key);
  const tags = ($("tags") as HTMLInputElement).value.split(",").map((t) => t.trim()).filter((t) => t !== "");
  const pet = create(PetSchema, {
    name: ($("name") as HTMLInputElement).value,
    species: Number(($("species") as HTMLSelectElement).value) as Species,
    ageYears: Number(($("age") as HTMLInputElement).value || "0"),
    tags,
    status: Number(($("status") as HTMLSelectElement).value) as PetStatus,
  });
  try {
    const res = await client.createPet({ pet }, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
    say(`Created ${res.pet?.name} (#${res.pet?.id}).`);
    ($("create-form") as HTMLFormElement).reset();
    ($("key") as HTMLInputElement).value = key; // the key stays for the next pet
    await loadPage();
  } catch (err) {
    const e = ConnectError.from(err);
    for (const detail of e.findDetails(BadRequestSchema)) {
      for (const v of detail.fieldViolations) {
        const slot = document.querySelector<HTMLElement>(`[data-error-for="${v.field}"]`);
        if (slot) slot.textContent = v.description;
      }
    }
    say(`Not created — ${describe(err)}`, true);
  }
}

function startWatch() {
  watchAbort?.abort();
  const abort = new AbortController();
  watchAbort = abort;
  const feed = $("feed");
  void (async () => {
    try {
      $("live").textContent = "live";
      for await (const ev of client.watchPets({}, { signal: abort.signal })) {
        const li = document.createElement("li");
        const when = ev.pet?.updateTime ? timestampDate(ev.pet.updateTime).toLocaleTimeString() : "";
        li.textContent = `${EventType[ev.type].replace("EVENT_TYPE_", "").toLowerCase()} ${ev.pet?.name} (#${ev.pet?.id}) ${when}`;
        li.dataset.type = EventType[ev.type];
        feed.prepend(li);
      }
      $("live").textContent = "ended";
    } catch (err) {
      if (!abort.signal.aborted) {
        $("live").textContent = `stopped — ${describe(err)}`;
      }
    }
  })();
}

function init() {
  ($("key") as HTMLInputElement).value = sessionStorage.getItem("switchboard-api-key") ?? "";
  $("api").textContent = apiBase;
  $("create-form").addEventListener("submit", (ev) => void createPet(ev as SubmitEvent));
  $("species-filter").addEventListener("change", () => {
    page = 0;
    pageTokens.length = 1;
    void loadPage();
  });
  $("next").addEventListener("click", () => {
    page++;
    void loadPage();
  });
  $("prev").addEventListener("click", () => {
    page = Math.max(0, page - 1);
    void loadPage();
  });
  const choice = $("transport") as HTMLSelectElement;
  choice.addEventListener("change", () => connectTo(choice.value));
  connectTo(choice.value);
}

init();
